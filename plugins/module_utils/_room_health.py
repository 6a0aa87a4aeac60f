# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""The room health run: members -> servers -> checks, backoff, outbound, reset.

I/O comes in as two callables, so this file only orders the work: api_factory() returns a new
HomeserverApi (one per thread: a session is one connection), check(names) returns check
results in the order given (check_many).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import threading

from ansible_collections.mxfed.federation.plugins.module_utils._api import ApiError, path_segment
from ansible_collections.mxfed.federation.plugins.module_utils._room import (
    MAX_SERVERS,
    RoomError,
    backoff_state,
    cause_of,
    members_from_admin,
    members_from_client,
    render_table,
    room_kind,
    server_of_user,
    servers_of_members,
    severity,
)

API_CONCURRENCY = 16  # requests to our own homeserver at once (backoff records, profile queries)
ADMIN = '/_synapse/admin/v1'
CLIENT = '/_matrix/client/v3'


def _resolve_room(api, room):
    if room_kind(room) == 'id':
        return room
    doc = api.request('GET', '%s/directory/room/%s' % (CLIENT, path_segment(room)))
    room_id = doc.get('room_id')
    if not isinstance(room_id, str) or not room_id.startswith('!'):
        raise RoomError('the alias %s resolved to no room ID' % room)
    return room_id


def _members(api, room_id, admin_api):
    """(user IDs, admin API usable)."""
    if admin_api != 'none':
        try:
            return members_from_admin(api.request('GET', '%s/rooms/%s/members' % (ADMIN, path_segment(room_id)))), True
        except ApiError as exc:
            # Not Synapse (404 M_UNRECOGNIZED or no answer on /_synapse) or not an admin (403).
            if admin_api == 'synapse':
                raise ApiError('the Synapse admin API is required (admin_api: synapse) but %s' % exc.message,
                               status=exc.status, errcode=exc.errcode)
            if exc.status == 404 and exc.errcode == 'M_NOT_FOUND':
                raise RoomError('the room %s is not known to the homeserver' % room_id)
    try:
        doc = api.request('GET', '%s/rooms/%s/joined_members' % (CLIENT, path_segment(room_id)))
    except ApiError as exc:
        if exc.status == 403:
            raise RoomError('the token\'s user is not in the room %s and has no admin rights: join it, or use a '
                            'Synapse admin\'s token (%s)' % (room_id, exc.message))
        raise
    return members_from_client(doc), False


def _backoff(api, server, now):
    try:
        doc = api.request('GET', '%s/federation/destinations/%s' % (ADMIN, path_segment(server)))
    except ApiError as exc:
        if exc.status == 404:
            return backoff_state(None, now)
        return dict(backoff_state(None, now), known=None, error=exc.message)
    return backoff_state(doc, now)


def _outbound(api, user_id):
    """Our server's own attempt to reach the user's server: a profile query over federation.

    A 2xx or the remote's 404 M_NOT_FOUND (the user has no profile) proves it answered."""
    try:
        api.request('GET', '%s/profile/%s' % (CLIENT, path_segment(user_id)))
        return {'ok': True, 'status': 200, 'detail': 'answered'}
    except ApiError as exc:
        if exc.status == 404 and exc.errcode == 'M_NOT_FOUND':
            return {'ok': True, 'status': 404, 'detail': 'answered (no profile)'}
        detail = exc.message.split(' answered ', 1)[-1] if exc.status is not None else exc.message
        return {'ok': False, 'status': exc.status, 'detail': detail}


def _in_backoff(server):
    backoff = server.get('backoff') or {}
    return bool(backoff.get('backing_off') or backoff.get('failing'))


def _reset(api, server, check_mode):
    """Reset Synapse's backoff for a server that passes the check now. True when reset (or it
    would be, in check mode). Synapse answers 400 when the timings were cleared meanwhile (its
    own retry succeeded): nothing left to reset."""
    backoff = server['backoff']
    if not (server['federation_ok'] and backoff and backoff.get('resettable') and _in_backoff(server)):
        return False
    if not check_mode:
        try:
            api.request('POST', '%s/federation/destinations/%s/reset_connection'
                        % (ADMIN, path_segment(server['server_name'])), body={})
        except ApiError as exc:
            if exc.status != 400:
                raise
            server['reset_note'] = 'Synapse had cleared the backoff itself meanwhile'
            return False
    server['reset'] = True
    return True


class _ApiPool(object):
    """Requests to our homeserver from API_CONCURRENCY threads, one kept-alive session each."""

    def __init__(self, api_factory):
        self._factory = api_factory
        self._local = threading.local()
        self._all = []
        self._lock = threading.Lock()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=API_CONCURRENCY)

    def api(self):
        api = getattr(self._local, 'api', None)
        if api is None:
            api = self._local.api = self._factory()
            with self._lock:
                self._all.append(api)
        return api

    def submit(self, func, *args):
        return self.pool.submit(lambda: func(self.api(), *args))

    def close(self):
        self.pool.shutdown(wait=True)
        for api in self._all:
            api.close()


def room_health(api_factory, check, room, admin_api='auto', reset_connection=False, outbound=True, check_mode=False,
                now_ms=None):
    """The room's servers, worst first, with the check, backoff and outbound results."""
    api = api_factory()
    try:
        whoami = api.request('GET', '%s/account/whoami' % CLIENT)
        own_server = server_of_user(whoami.get('user_id'))
        if own_server is None:
            raise RoomError('the access token belongs to no user ID the homeserver names (whoami: %r)'
                            % (whoami.get('user_id'),))
        room_id = _resolve_room(api, room)
        user_ids, admin = _members(api, room_id, admin_api)
        members, invalid = servers_of_members(user_ids)
        names = list(members)
        not_checked = names[MAX_SERVERS:] + invalid
        names = names[:MAX_SERVERS]
        # Our homeserver's records are read beside the checks. Its own attempts come after the resets:
        # a successful federation request ends Synapse's backoff for that server by itself (as any
        # successful request does), so it would both hide the backoff and race a reset.
        pool = _ApiPool(api_factory)
        try:
            now = now_ms()
            remote = [n for n in names if n != own_server]
            backoffs = dict((n, pool.submit(_backoff, n, now)) for n in remote) if admin else {}
            results = check(names)
            servers = []
            for name, result in zip(names, results):
                servers.append({
                    'server_name': name, 'own': name == own_server, 'members': len(members[name]),
                    'federation_ok': bool(result.get('federation_ok')), 'cause': cause_of(result),
                    'reachable_from': result.get('reachable_from'), 'outbound': None,
                    'backoff': backoffs[name].result() if name in backoffs else None, 'reset': False,
                })
            reset = []
            if reset_connection:
                if not admin:
                    raise RoomError('reset_connection needs the Synapse admin API, which this token cannot use')
                for server in servers:
                    if _reset(api, server, check_mode):
                        reset.append(server['server_name'])
            if outbound:
                asked = [s for s in servers if not s['own']]
                answers = [(s, pool.submit(_outbound, members[s['server_name']][0])) for s in asked
                           if not (check_mode and _in_backoff(s))]
                for server in asked:
                    if check_mode and _in_backoff(server):
                        server['outbound'] = {'ok': None, 'status': None, 'detail': 'not asked in check mode: a '
                                              'success would end the backoff'}
                for server, answer in answers:
                    server['outbound'] = answer.result()
                    if server['outbound']['ok'] and _in_backoff(server) and not server['reset']:
                        server['outbound']['detail'] += '; this success ended the backoff'
        finally:
            pool.close()
    finally:
        api.close()
    servers.sort(key=severity)
    unreachable = [s['server_name'] for s in servers if not s['federation_ok']]
    backing_off = [s['server_name'] for s in servers if (s['backoff'] or {}).get('backing_off')]
    summary = '%s: %d servers, %d unreachable%s, %d backed off by %s%s' % (
        room_id, len(servers), len(unreachable), (' (%s)' % ', '.join(unreachable)) if unreachable else '',
        len(backing_off), own_server, '' if admin else ' (backoff not available without the Synapse admin API)')
    if reset:
        summary += '; reset: %s' % ', '.join(reset)
    return {'room_id': room_id, 'own_server': own_server, 'admin_api': admin, 'servers': servers,
            'unreachable_servers': unreachable, 'backing_off': backing_off, 'reset': reset, 'not_checked': not_checked,
            'table': render_table(servers, now), 'summary': summary}
