# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Room federation health: which servers are in a room, whether each is reachable, whether our
homeserver is backing off from it. Pure logic over documents the APIs return; no I/O.

Backoff follows Synapse's retry rules (synapse/util/retryutils.py, read in 1.163.2): after a
failure Synapse stores failure_ts (when the failures began), retry_last_ts (the last attempt)
and retry_interval (ms); it sends nothing to the destination until retry_last_ts +
retry_interval, and the admin API's reset_connection clears the timings when retry_last_ts is
set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.mxfed.federation.plugins.module_utils._servername import ServerNameError, parse_server_name

MAX_SERVERS = 1000  # distinct servers checked in one call; more are listed as not checked


class RoomError(Exception):
    """Bad input or an answer that cannot be used (a message for a person, with the field)."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message


def room_kind(room):
    """'alias' for #alias:server, 'id' for !opaque:server (or an opaque room ID); RoomError otherwise."""
    if not isinstance(room, str) or not room.strip():
        raise RoomError('room is empty: give a room ID (!abc:example.org) or an alias (#room:example.org)')
    if room[0] == '#' and ':' in room[1:]:
        return 'alias'
    if room[0] == '!' and len(room) > 1:
        return 'id'
    raise RoomError('room %r is neither a room ID (starts with !) nor an alias (#name:server)' % room[:200])


def server_of_user(user_id):
    """The server name of a user ID (@localpart:server_name), or None when it is not one."""
    if not isinstance(user_id, str) or not user_id.startswith('@') or ':' not in user_id:
        return None
    server = user_id.split(':', 1)[1]
    try:
        parse_server_name(server)
    except ServerNameError:
        return None
    return server


def servers_of_members(user_ids):
    """(servers, invalid): servers maps each server name to its members (in first-seen order),
    invalid lists what is not a user ID."""
    servers = {}
    invalid = []
    for user_id in user_ids:
        server = server_of_user(user_id)
        if server is None:
            invalid.append(user_id if isinstance(user_id, str) else repr(user_id))
            continue
        servers.setdefault(server, []).append(user_id)
    return servers, invalid


def members_from_admin(doc):
    """User IDs from Synapse's GET /_synapse/admin/v1/rooms/<room>/members ({"members": [...]})."""
    members = doc.get('members') if isinstance(doc, dict) else None
    if not isinstance(members, list):
        raise RoomError('the admin API answered without a "members" list')
    return members


def members_from_client(doc):
    """User IDs from GET /_matrix/client/v3/rooms/<room>/joined_members ({"joined": {user: {...}}})."""
    joined = doc.get('joined') if isinstance(doc, dict) else None
    if not isinstance(joined, dict):
        raise RoomError('the client API answered without a "joined" object')
    return list(joined)


def _iso(ms):
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return None
    try:
        return datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    except (OverflowError, OSError, ValueError):
        return None


def _ms(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def backoff_state(doc, now_ms):
    """What Synapse's destination record says, at now_ms (ms since the epoch).

    doc: the admin API's destination object, or None for an unknown destination (404: never
    contacted, so no backoff). Returns a dict: known, failing (failures since failure_ts),
    backing_off (nothing is sent before next_retry_ts), retry_interval_ms, and the times as
    ms and as ISO 8601 UTC."""
    if doc is None:
        return {'known': False, 'failing': False, 'backing_off': False, 'failure_ts': None, 'retry_last_ts': None,
                'retry_interval_ms': 0, 'next_retry_ts': None, 'failing_since': None, 'next_retry': None,
                'resettable': False}
    failure_ts = _ms(doc.get('failure_ts'))
    retry_last_ts = _ms(doc.get('retry_last_ts')) or None
    interval = _ms(doc.get('retry_interval')) or 0
    next_retry_ts = retry_last_ts + interval if retry_last_ts and interval else None
    return {
        'known': True,
        'failing': failure_ts is not None,
        'backing_off': bool(next_retry_ts and now_ms < next_retry_ts),
        'failure_ts': failure_ts,
        'retry_last_ts': retry_last_ts,
        'retry_interval_ms': interval,
        'next_retry_ts': next_retry_ts,
        'failing_since': _iso(failure_ts),
        'next_retry': _iso(next_retry_ts),
        # Synapse's reset_connection refuses (400) a destination without retry_last_ts.
        'resettable': bool(retry_last_ts),
    }


def cause_of(result):
    """The first error of a check result as {code, message}, or None when it passed."""
    if result.get('federation_ok'):
        return None
    errors = [e for e in result.get('errors') or [] if e.get('code') not in ('peer_unreachable',)]
    errors = errors or result.get('errors') or []
    if not errors:
        return {'code': 'unknown', 'message': result.get('summary', '')[:300]}
    return {'code': errors[0].get('code'), 'message': errors[0].get('message')}


def severity(server):
    """Sort key, worst first: unreachable, then backing off, then failing, then healthy."""
    backoff = server.get('backoff') or {}
    if server.get('own'):
        rank = 4
    elif not server.get('federation_ok'):
        rank = 0
    elif backoff.get('backing_off'):
        rank = 1
    elif backoff.get('failing') or (server.get('outbound') or {}).get('ok') is False:
        rank = 2
    else:
        rank = 3
    return (rank, server.get('server_name'))


def status_word(server):
    if server.get('own'):
        return 'ours'
    if not server.get('federation_ok'):
        return 'UNREACHABLE'
    if server.get('reset'):
        return 'reset'
    backoff = server.get('backoff') or {}
    if backoff.get('backing_off'):
        return 'backing off'
    if backoff.get('failing'):
        return 'failing'
    if (server.get('outbound') or {}).get('ok') is False:
        return 'outbound fails'
    return 'ok'


def _backoff_text(server, now_ms):
    backoff = server.get('backoff')
    if backoff is None:
        return 'n/a'
    if not backoff['known']:
        return 'never contacted'
    if not backoff['failing'] and not backoff['backing_off']:
        return 'none'
    parts = []
    if backoff['failing_since']:
        parts.append('failing since %s' % backoff['failing_since'])
    if backoff['backing_off']:
        parts.append('next retry in %ds' % max(0, (backoff['next_retry_ts'] - now_ms) // 1000))
    if server.get('reset'):
        parts.append('reset')
    return ', '.join(parts)


def render_table(servers, now_ms):
    """A fixed-width text table, one line per server, in the order given."""
    rows = [('server', 'members', 'status', 'cause (the check)', 'outbound (our server)', 'backoff (before any reset)')]
    for server in servers:
        cause = server.get('cause')
        outbound = server.get('outbound')
        rows.append((
            server['server_name'],
            str(server.get('members', 0)),
            status_word(server),
            '-' if cause is None else ('%s: %s' % (cause['code'], cause['message']))[:90],
            'n/a' if outbound is None else ('ok' if outbound['ok'] else outbound['detail'][:50]),
            _backoff_text(server, now_ms),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
