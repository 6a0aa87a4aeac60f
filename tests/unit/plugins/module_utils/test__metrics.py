# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""_metrics: the textfile the monitor writes, parsed by Prometheus' own parser."""

from __future__ import absolute_import, division, print_function

from hypothesis import given, strategies as st
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_server
from ansible_collections.mxfed.federation.plugins.module_utils._metrics import render, samples


def parsed(text):
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_metrics_of_a_real_check(lab):
    lab.direct_homeserver('example.test', '127.0.0.2')
    result = check_server('example.test', lab.network(), checks=('keys',))
    metrics = parsed(render(samples(result, now=1800000000.0, duration=0.25)))
    assert metrics['mxfed_federation_ok'] == [({'server_name': 'example.test'}, 1.0)]
    assert sorted(l['implementation'] for l, v in metrics['mxfed_federation_reachable'] if v == 1.0) == [
        'conduit', 'dendrite', 'synapse']
    (labels, seconds), = metrics['mxfed_federation_certificate_expiry_seconds']
    assert labels == {'server_name': 'example.test', 'address': '127.0.0.2', 'port': '8448'}
    assert 89 * 86400 < seconds <= 90 * 86400  # the lab's leaf certificates last 90 days
    (_labels, valid_until), = metrics['mxfed_federation_signing_key_valid_until_timestamp_seconds']
    assert valid_until > 1.7e9
    assert metrics['mxfed_federation_check_success'] == [({}, 1.0)]
    assert metrics['mxfed_federation_check_duration_seconds'] == [({}, 0.25)]


def test_metrics_of_a_broken_server_and_rooms(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    lab.closed('127.0.0.2', 8448)
    result = check_server('example.test', lab.network(timeout=1), checks=('keys',))
    rooms = [{'room_id': '!r:example.test', 'servers': [{}, {}, {}], 'unreachable_servers': ['c.test'], 'backing_off': ['c.test'],
              'admin_api': True}]
    metrics = parsed(render(samples(result, now=1.0, duration=1.0, rooms=rooms)))
    assert metrics['mxfed_federation_ok'] == [({'server_name': 'example.test'}, 0.0)]
    assert metrics['mxfed_federation_address_ok'] == [({'server_name': 'example.test', 'address': '127.0.0.2',
                                                        'port': '8448'}, 0.0)]
    assert 'mxfed_federation_certificate_expiry_seconds' not in metrics
    assert metrics['mxfed_federation_room_servers_unreachable'] == [({'room_id': '!r:example.test'}, 1.0)]
    assert metrics['mxfed_federation_destinations_backing_off'] == [({'room_id': '!r:example.test'}, 1.0)]


def test_a_failed_run_says_so_with_its_error():
    metrics = parsed(render(samples(None, now=5.0, duration=0.1, error='cannot read /etc/mxfed-monitor/token')))
    assert metrics['mxfed_federation_check_success'] == [({'error': 'cannot read /etc/mxfed-monitor/token'}, 0.0)]
    assert 'mxfed_federation_ok' not in metrics


@given(st.text(max_size=60))
def test_any_label_value_survives_the_round_trip(value):
    result = {'server_name': value, 'federation_ok': True, 'reachable_from': {}, 'errors': [], 'warnings': []}
    metrics = parsed(render(samples(result, now=1.0, duration=1.0)))
    assert metrics['mxfed_federation_ok'] == [({'server_name': value}, 1.0)]
