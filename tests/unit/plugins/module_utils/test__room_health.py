# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""room_health over real sockets: a loopback HTTPS "homeserver API" that answers as Synapse's
client and admin APIs do (shapes read in Synapse 1.163.2: rest/admin/federation.py,
rest/admin/rooms.py), real DNS and real servers for the discovery checks."""

from __future__ import absolute_import, division, print_function

import json
from urllib.parse import unquote

import pytest

from _lab import App, json_response
from ansible_collections.mxfed.federation.plugins.module_utils._api import ApiError, HomeserverApi
from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_many
from ansible_collections.mxfed.federation.plugins.module_utils._room import RoomError
from ansible_collections.mxfed.federation.plugins.module_utils._room_health import room_health

NOW = 1_800_000_000_000
TOKEN = 'syt_secret_token'
ROOM = '!room:mine.test'
MEMBERS = ['@admin:mine.test', '@a:ok.test', '@b:ok.test', '@c:dead.test', '@d:late.test']


class FakeSynapseApi(object):
    """Answers like Synapse for the paths room_health uses; records what it was asked."""

    def __init__(self, admin=True, destinations=None, profiles=None):
        self.admin = admin
        self.destinations = destinations or {}
        self.profiles = profiles or {}
        self.asked = []

    def __call__(self, req):
        if req['authorization'] != 'Bearer %s' % TOKEN:
            return json_response(401, {'errcode': 'M_UNKNOWN_TOKEN', 'error': 'Invalid access token passed.'})
        path = unquote(req['path'])
        self.asked.append((req['method'], path))
        if path == '/_matrix/client/v3/account/whoami':
            return json_response(200, {'user_id': '@admin:mine.test'})
        if path == '/_matrix/client/v3/directory/room/#general:mine.test':
            return json_response(200, {'room_id': ROOM, 'servers': ['mine.test']})
        if path.startswith('/_synapse/admin/') and not self.admin:
            return json_response(403, {'errcode': 'M_FORBIDDEN', 'error': 'You are not a server admin'})
        if path == '/_synapse/admin/v1/rooms/%s/members' % ROOM:
            return json_response(200, {'members': MEMBERS, 'total': len(MEMBERS)})
        if path == '/_matrix/client/v3/rooms/%s/joined_members' % ROOM:
            return json_response(200, {'joined': dict((m, {'display_name': None}) for m in MEMBERS)})
        prefix = '/_synapse/admin/v1/federation/destinations/'
        if path.startswith(prefix):
            rest = path[len(prefix):]
            if rest.endswith('/reset_connection') and req['method'] == 'POST':
                name = rest[:-len('/reset_connection')]
                if not self.destinations.get(name, {}).get('retry_last_ts'):
                    # As Synapse: nothing to reset (e.g. its own retry succeeded meanwhile).
                    return json_response(400, {'errcode': 'M_UNKNOWN', 'error': 'The retry timing does not need to be reset for this destination.'})
                self.destinations[name] = {'failure_ts': None, 'retry_last_ts': 0, 'retry_interval': 0}
                return json_response(200, {})
            if rest in self.destinations:
                return json_response(200, dict(self.destinations[rest], destination=rest))
            return json_response(404, {'errcode': 'M_NOT_FOUND', 'error': 'Unknown destination'})
        if path.startswith('/_matrix/client/v3/profile/'):
            user = path[len('/_matrix/client/v3/profile/'):]
            status, doc = self.profiles.get(user.split(':', 1)[1], (200, {'displayname': user}))
            return json_response(status, doc)
        return json_response(404, {'errcode': 'M_UNRECOGNIZED', 'error': 'Unrecognized request'})


def setup(lab, fake):
    lab.dns.add('matrix.mine.test', 'A', '127.0.0.5')
    app = App(routes={})
    app.intercept(fake)
    lab.https('127.0.0.5', 443, ['matrix.mine.test'], app=app)
    lab.direct_homeserver('mine.test', '127.0.0.6')
    lab.direct_homeserver('ok.test', '127.0.0.2')
    lab.direct_homeserver('late.test', '127.0.0.4')
    lab.dns.add('dead.test', 'A', '127.0.0.3')
    lab.closed('127.0.0.3', 443)
    lab.closed('127.0.0.3', 8448)
    network = lab.network(timeout=2.0)

    def factory():
        return HomeserverApi(network, 'https://matrix.mine.test', TOKEN)

    def check(names):
        return check_many(names, network, checks=('keys',))

    return factory, check


def run(lab, fake, **kwargs):
    factory, check = setup(lab, fake)
    return room_health(factory, check, kwargs.pop('room', ROOM), now_ms=lambda: NOW, **kwargs)


def test_names_the_broken_server_with_its_cause_and_our_backoff(lab):
    fake = FakeSynapseApi(destinations={
        'dead.test': {'failure_ts': NOW - 600_000, 'retry_last_ts': NOW - 10_000, 'retry_interval': 600_000},
        'late.test': {'failure_ts': NOW - 900_000, 'retry_last_ts': NOW - 5_000, 'retry_interval': 300_000},
        'ok.test': {'failure_ts': None, 'retry_last_ts': 0, 'retry_interval': 0},
    }, profiles={'dead.test': (502, {'errcode': 'M_UNKNOWN', 'error': 'Failed to fetch profile'}),
                 'late.test': (404, {'errcode': 'M_NOT_FOUND', 'error': 'Profile was not found'})})
    out = run(lab, fake, room='#general:mine.test')
    assert out['room_id'] == ROOM and out['own_server'] == 'mine.test' and out['admin_api'] is True
    assert [s['server_name'] for s in out['servers']] == ['dead.test', 'late.test', 'ok.test', 'mine.test']
    dead, late, ok, mine = out['servers']
    assert dead['federation_ok'] is False and dead['cause']['code'] not in (None, 'peer_unreachable')
    assert dead['backoff']['backing_off'] is True and dead['backoff']['failing_since'] == '2027-01-15T07:50:00Z'
    assert dead['outbound'] == {'ok': False, 'status': 502, 'detail': 'HTTP 502: M_UNKNOWN Failed to fetch profile'}
    assert late['federation_ok'] is True and late['backoff']['backing_off'] is True
    assert late['outbound']['ok'] is True  # the remote answered 404 M_NOT_FOUND: it was reached
    assert ok['members'] == 2 and ok['backoff']['failing'] is False and ok['cause'] is None
    assert mine['own'] is True and mine['backoff'] is None and mine['outbound'] is None
    assert out['unreachable_servers'] == ['dead.test'] and out['backing_off'] == ['dead.test', 'late.test']
    assert out['reset'] == []
    assert 'dead.test' in out['summary'] and '1 unreachable' in out['summary']
    assert out['table'].split('\n')[1].split()[2] == 'UNREACHABLE'
    assert not [a for a in fake.asked if a[0] == 'POST']


def test_reset_only_what_passes_now_and_not_in_check_mode(lab):
    destinations = {
        'dead.test': {'failure_ts': NOW - 600_000, 'retry_last_ts': NOW - 10_000, 'retry_interval': 600_000},
        'late.test': {'failure_ts': NOW - 900_000, 'retry_last_ts': NOW - 5_000, 'retry_interval': 300_000},
    }
    fake = FakeSynapseApi(destinations=dict(destinations))
    out = run(lab, fake, reset_connection=True, check_mode=True, outbound=False)
    assert out['reset'] == ['late.test'] and not [a for a in fake.asked if a[0] == 'POST']
    lab.close()
    fake = FakeSynapseApi(destinations=dict(destinations))
    out = run(lab, fake, reset_connection=True, outbound=False)
    assert out['reset'] == ['late.test']
    assert ('POST', '/_synapse/admin/v1/federation/destinations/late.test/reset_connection') in fake.asked
    assert fake.destinations['late.test']['retry_interval'] == 0
    assert fake.destinations['dead.test']['retry_interval'] == 600_000  # still broken: not reset


def test_without_admin_rights_members_come_from_the_client_api_and_backoff_is_not_available(lab):
    fake = FakeSynapseApi(admin=False)
    out = run(lab, fake, outbound=False)
    assert out['admin_api'] is False
    assert all(s['backoff'] is None for s in out['servers'])
    assert 'backoff not available' in out['summary']
    assert ('GET', '/_matrix/client/v3/rooms/%s/joined_members' % ROOM) in fake.asked
    with pytest.raises(ApiError) as err:
        run(lab, FakeSynapseApi(admin=False), admin_api='synapse', outbound=False)
    assert 'admin API is required' in err.value.message and err.value.status == 403


def test_bad_token_and_unknown_alias_are_clear_errors(lab):
    factory, check = setup(lab, FakeSynapseApi())

    def bad_factory():
        return HomeserverApi(lab.network(timeout=2.0), 'https://matrix.mine.test', 'wrong')

    with pytest.raises(ApiError) as err:
        room_health(bad_factory, check, ROOM, now_ms=lambda: NOW)
    assert err.value.status == 401 and 'M_UNKNOWN_TOKEN' in err.value.message
    with pytest.raises(ApiError) as err:
        room_health(factory, check, '#nope:mine.test', now_ms=lambda: NOW)
    assert err.value.status == 404
    with pytest.raises(RoomError):
        room_health(factory, check, 'general', now_ms=lambda: NOW)


def test_the_token_is_sent_only_to_the_homeserver(lab):
    fake = FakeSynapseApi()
    run(lab, fake, outbound=False)
    for server in lab.servers:
        for req in server.requests:
            if server.ip != '127.0.0.5':
                assert req['authorization'] is None, req
            assert 'mxfed' in (req['user_agent'] or '')
    assert json.dumps(fake.asked)  # something was asked


def test_plain_http_only_on_loopback(lab):
    with pytest.raises(ApiError) as err:
        HomeserverApi(lab.network(), 'http://matrix.mine.test:8008', TOKEN)
    assert 'not loopback' in err.value.message
    for url in ('http://127.0.0.1:8008', 'http://localhost:8008', 'http://[::1]:8008/', 'https://matrix.mine.test'):
        HomeserverApi(lab.network(), url, TOKEN)


def test_the_loopback_listener_in_plain_http(lab):
    # A plain-HTTP listener on loopback answering like Synapse's own (no proxy in front).
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    fake = FakeSynapseApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
            req = {'method': 'GET', 'path': self.path, 'authorization': self.headers.get('Authorization')}
            status, headers, payload = fake(req)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header('Content-Length', str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = HTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = HomeserverApi(lab.network(), 'http://127.0.0.1:%d' % server.server_address[1], TOKEN)
        assert api.request('GET', '/_matrix/client/v3/account/whoami') == {'user_id': '@admin:mine.test'}
        assert api.request('GET', '/_synapse/admin/v1/rooms/%s/members' % ROOM)['total'] == len(MEMBERS)
        api.close()
    finally:
        server.shutdown()


def test_a_backoff_cleared_meanwhile_is_not_an_error_and_check_mode_asks_nothing_that_would_clear_it(lab):
    destinations = {'late.test': {'failure_ts': NOW - 900_000, 'retry_last_ts': NOW - 5_000, 'retry_interval': 300_000}}
    fake = FakeSynapseApi(destinations=dict(destinations))
    factory, check = setup(lab, fake)

    def clearing_check(names):
        # Synapse's own retry succeeds while the checks run: the record is cleared before the reset.
        results = check(names)
        fake.destinations['late.test'] = {'failure_ts': None, 'retry_last_ts': 0, 'retry_interval': 0}
        return results

    out = room_health(factory, clearing_check, ROOM, reset_connection=True, outbound=False, now_ms=lambda: NOW)
    assert out['reset'] == []
    late = [s for s in out['servers'] if s['server_name'] == 'late.test'][0]
    assert late['reset_note'] == 'Synapse had cleared the backoff itself meanwhile'
    lab.close()
    fake = FakeSynapseApi(destinations=dict(destinations))
    out = run(lab, fake, check_mode=True)
    late = [s for s in out['servers'] if s['server_name'] == 'late.test'][0]
    assert late['outbound']['ok'] is None and 'check mode' in late['outbound']['detail']
    assert not [a for a in fake.asked if a[1].endswith('@d:late.test')]
    assert [s['outbound']['ok'] for s in out['servers'] if s['server_name'] == 'ok.test'] == [True]
