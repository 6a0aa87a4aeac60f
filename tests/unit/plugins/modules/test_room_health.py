# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The room_health module wrapper: bad input, the failure message, the token kept out of output."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.mxfed.federation.plugins.modules import room_health

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'module_utils'))
from test__room_health import ROOM, TOKEN, FakeSynapseApi, setup  # noqa: E402 pylint: disable=wrong-import-position

COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(room_health.__file__), '..', '..', '..', '..'))
BASE = {'homeserver_url': 'https://matrix.example.test', 'access_token': 'tok', 'room': '!r:example.test',
        'nameservers': ['192.0.2.1'], 'timeout': 1}


def run_subprocess(args, tmp_path):
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS_ROOT] + sys.path))
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.mxfed.federation.plugins.modules.room_health',
                           str(args_file)], capture_output=True, text=True, env=env, timeout=60, check=False)
    return json.loads(proc.stdout)


@pytest.mark.parametrize('change, words', [
    ({'room': 'general'}, "room 'general' is neither a room ID"),
    ({'timeout': 0}, 'timeout must be a positive number'),
    ({'reset_connection': True, 'admin_api': 'none'}, 'reset_connection needs the admin API'),
    ({'homeserver_url': 'http://matrix.example.test'}, 'plain http on a host that is not loopback'),
    ({'homeserver_url': 'ftp://matrix.example.test'}, 'is not https'),
    ({'nameservers': ['not-an-ip']}, 'Invalid nameservers'),
])
def test_bad_input_fails_clearly(tmp_path, change, words):
    out = run_subprocess(dict(BASE, **change), tmp_path)
    assert out['failed'] is True and words in out['msg'], out['msg']
    assert 'Traceback' not in json.dumps(out)


def test_missing_options_are_named(tmp_path):
    out = run_subprocess({'room': '!r:x.test'}, tmp_path)
    assert out['failed'] is True and 'homeserver_url' in out['msg'] and 'access_token' in out['msg']


def _run_main(args, lab, fake, monkeypatch, capsys):
    _factory, _check = setup(lab, fake)
    monkeypatch.setattr(room_health, 'make_network', lambda params: lab.network(timeout=params['timeout']))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            room_health.main()
    return json.loads(capsys.readouterr().out)


def test_report_and_reset_through_the_module(lab, monkeypatch, capsys):
    now = 1_800_000_000_000
    import time
    monkeypatch.setattr(time, 'time', lambda: now / 1000.0)
    fake = FakeSynapseApi(destinations={
        'late.test': {'failure_ts': now - 900_000, 'retry_last_ts': now - 5_000, 'retry_interval': 300_000}})
    args = {'homeserver_url': 'https://matrix.mine.test', 'access_token': TOKEN, 'room': ROOM, 'timeout': 2,
            'reset_connection': True, 'outbound': False}
    out = _run_main(args, lab, fake, monkeypatch, capsys)
    assert out.get('failed') is not True, out.get('msg')
    assert out['changed'] is True and out['reset'] == ['late.test'] and out['unreachable_servers'] == ['dead.test']
    assert TOKEN not in json.dumps(out)


def test_api_failure_is_one_sentence(lab, monkeypatch, capsys):
    args = {'homeserver_url': 'https://matrix.mine.test', 'access_token': 'wrong', 'room': ROOM, 'timeout': 2}
    out = _run_main(args, lab, FakeSynapseApi(), monkeypatch, capsys)
    assert out['failed'] is True
    assert out['msg'].startswith('Room health of %s via https://matrix.mine.test: GET matrix.mine.test/' % ROOM)
    assert 'HTTP 401: M_UNKNOWN_TOKEN' in out['msg']
