# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""benchmarks/synapse_stages.py pairs a message's requests across two Synapse journals."""

from __future__ import absolute_import, division, print_function

import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'benchmarks', 'synapse_stages.py')
SPEC = importlib.util.spec_from_file_location('synapse_stages', PATH)
stages_mod = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(stages_mod)


def stamp(seconds):
    return '2026-11-26T10:00:%09.6f+0000' % seconds


def access(end, duration, method, path):
    return ('%s host synapse[1]: synapse.access.http.8008 - 643 - INFO - X - 1.2.3.4 - 8008 - {u} '
            'Processed request: %.3fsec/0.000sec ru=(0.001sec, 0.000sec) db=(0.001sec/0.001sec/3) 59B 200 '
            '"%s %s HTTP/1.1" "-" [0 dbevts]' % (stamp(end), duration, method, path))


def outgoing(end, duration):
    return ('%s host synapse[1]: synapse.http.matrixfederationclient - 371 - INFO - loop - {PUT-O-1} [b] '
            'Completed request: 200 OK in %.2f secs, got 60 bytes - PUT '
            'matrix-federation://b.test/_matrix/federation/v1/send/123' % (stamp(end), duration))


def test_one_message_each_stage():
    sender = [
        access(10.040, 0.040, 'PUT', '/_matrix/client/v3/rooms/%21r/send/m.room.message/t1'),   # 10.000-10.040
        outgoing(10.070, 0.02),                                                                  # 10.050-10.070
        'a line that is no request',
    ]
    receiver = [
        access(10.058, 0.003, 'PUT', '/_matrix/federation/v1/send/123'),                          # 10.055-10.058
        access(10.030, 5.0, 'GET', '/_matrix/client/v3/sync?since=s1'),                           # ended before: not it
        access(10.090, 0.5, 'GET', '/_matrix/client/v3/sync?since=s2'),                           # returned at 10.090
    ]
    result = stages_mod.stages(stages_mod.parse(sender), stages_mod.parse(receiver))
    assert result['messages'] == 1
    expected = {'put': 40.0, 'put_to_fedout': 10.0, 'fedout_to_fedin': 5.0, 'fedin': 3.0,
                'fedin_to_sync': 32.0, 'total': 90.0}
    for name, value in expected.items():
        assert result[name]['p50_ms'] == pytest.approx(value, abs=0.2), name


def test_message_never_received_is_not_counted():
    sender = [access(10.040, 0.040, 'PUT', '/_matrix/client/v3/rooms/%21r/send/m.room.message/t1'),
              outgoing(10.070, 0.02)]
    result = stages_mod.stages(stages_mod.parse(sender), stages_mod.parse([]))
    assert result == {'messages': 0}
