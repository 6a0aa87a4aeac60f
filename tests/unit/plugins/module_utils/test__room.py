# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""_room: the pure pieces of room health (members -> servers, Synapse's backoff record, order)."""

from __future__ import absolute_import, division, print_function

import pytest
from hypothesis import given, strategies as st

from ansible_collections.mxfed.federation.plugins.module_utils._room import (
    RoomError,
    backoff_state,
    cause_of,
    render_table,
    room_kind,
    servers_of_members,
    severity,
)

NOW = 1_800_000_000_000


def test_servers_of_members_groups_in_first_seen_order_and_keeps_what_is_not_a_user_id():
    servers, invalid = servers_of_members(['@a:beta.test', '@b:alpha.test:8448', '@c:beta.test', 'nobody', 7,
                                           '@d:bad name', '@e:[::1]:8448'])
    assert list(servers) == ['beta.test', 'alpha.test:8448', '[::1]:8448']
    assert servers['beta.test'] == ['@a:beta.test', '@c:beta.test']
    assert invalid == ['nobody', '7', '@d:bad name']


@given(st.lists(st.one_of(st.text(max_size=40), st.integers(), st.none())))
def test_servers_of_members_never_raises(values):
    servers, invalid = servers_of_members(values)
    assert sum(len(v) for v in servers.values()) + len(invalid) == len(values)


@pytest.mark.parametrize('room, kind', [('!abc:x.test', 'id'), ('!opaque', 'id'), ('#r:x.test', 'alias')])
def test_room_kind(room, kind):
    assert room_kind(room) == kind


@pytest.mark.parametrize('room', ['', '  ', 'general', '#noserver', None])
def test_room_kind_refuses_what_is_not_a_room(room):
    with pytest.raises(RoomError) as err:
        room_kind(room)
    assert 'room' in err.value.message


def test_backoff_unknown_destination_is_no_backoff():
    state = backoff_state(None, NOW)
    assert state['known'] is False and state['backing_off'] is False and state['resettable'] is False


def test_backoff_within_the_interval_is_backing_off():
    state = backoff_state({'failure_ts': NOW - 600_000, 'retry_last_ts': NOW - 60_000, 'retry_interval': 120_000}, NOW)
    assert state['failing'] and state['backing_off'] and state['resettable']
    assert state['next_retry_ts'] == NOW + 60_000
    assert state['failing_since'] == '2027-01-15T07:50:00Z'


def test_backoff_after_the_interval_is_failing_not_backing_off():
    state = backoff_state({'failure_ts': NOW - 600_000, 'retry_last_ts': NOW - 300_000, 'retry_interval': 120_000}, NOW)
    assert state['failing'] and not state['backing_off']


def test_backoff_healthy_record():
    state = backoff_state({'failure_ts': None, 'retry_last_ts': 0, 'retry_interval': 0}, NOW)
    assert state['known'] and not state['failing'] and not state['backing_off'] and not state['resettable']


@given(st.dictionaries(st.sampled_from(['failure_ts', 'retry_last_ts', 'retry_interval']),
                       st.one_of(st.integers(), st.none(), st.text(max_size=5), st.booleans(), st.floats())))
def test_backoff_never_raises_on_odd_values(doc):
    state = backoff_state(doc, NOW)
    assert state['known'] is True


def test_cause_skips_the_verdict_line_for_the_evidence():
    result = {'federation_ok': False, 'errors': [{'code': 'peer_unreachable', 'message': 'Synapse would not'},
                                                 {'code': 'connect_refused', 'message': 'refused'}]}
    assert cause_of(result) == {'code': 'connect_refused', 'message': 'refused'}
    assert cause_of({'federation_ok': True}) is None


def test_order_is_worst_first_and_the_table_has_one_line_per_server():
    servers = [
        {'server_name': 'ok.test', 'federation_ok': True, 'backoff': backoff_state(None, NOW), 'members': 2},
        {'server_name': 'mine.test', 'own': True, 'federation_ok': True, 'members': 5},
        {'server_name': 'slow.test', 'federation_ok': True, 'members': 1,
         'backoff': backoff_state({'failure_ts': NOW - 5000, 'retry_last_ts': NOW - 1000, 'retry_interval': 60000}, NOW)},
        {'server_name': 'dead.test', 'federation_ok': False, 'members': 1,
         'cause': {'code': 'connect_refused', 'message': 'refused'}, 'outbound': {'ok': False, 'detail': 'HTTP 502'}},
    ]
    servers.sort(key=severity)
    assert [s['server_name'] for s in servers] == ['dead.test', 'slow.test', 'ok.test', 'mine.test']
    table = render_table(servers, NOW).split('\n')
    assert len(table) == 5
    assert table[1].split()[:3] == ['dead.test', '1', 'UNREACHABLE']
    assert 'connect_refused: refused' in table[1] and 'HTTP 502' in table[1]
    assert 'next retry in 59s' in table[2]
    assert table[4].split()[2] == 'ours'
