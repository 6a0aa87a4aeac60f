# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Prometheus metrics from a delegation check (and optional room health) result, in the text
exposition format node_exporter's textfile collector reads (one `# HELP`/`# TYPE` per family,
label values escaped). The file is the contract: the monitor role writes it, alert rules read it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

PREFIX = 'mxfed_federation_'

FAMILIES = (
    ('ok', 'gauge', '1 when every implementation that counts reaches the server name (the delegation check verdict).'),
    ('reachable', 'gauge', '1 when the implementation would reach the server name.'),
    ('errors', 'gauge', 'Error findings of the last check.'),
    ('warnings', 'gauge', 'Warning findings of the last check.'),
    ('certificate_expiry_seconds', 'gauge', 'Seconds until the certificate served on the address expires.'),
    ('signing_key_valid_until_timestamp_seconds', 'gauge',
     'valid_until_ts of the server keys served on the address, in seconds since the epoch.'),
    ('address_ok', 'gauge', '1 when the address passed TLS, name and key checks.'),
    ('room_servers', 'gauge', 'Servers in the watched room.'),
    ('room_servers_unreachable', 'gauge', 'Servers of the watched room the check finds unreachable.'),
    ('destinations_backing_off', 'gauge', 'Servers of the watched room our homeserver backs off from now.'),
    ('check_success', 'gauge', '1 when the last run completed (0: it could not run; see the error label).'),
    ('check_timestamp_seconds', 'gauge', 'When the last run ended, in seconds since the epoch.'),
    ('check_duration_seconds', 'gauge', 'How long the last run took.'),
)


def escape_label(value):
    """A label value as the exposition format wants it: backslash, double quote and newline escaped."""
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _number(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, float):
        if math.isnan(value):
            return 'NaN'
        if math.isinf(value):
            return '+Inf' if value > 0 else '-Inf'
        return repr(round(value, 3))
    return str(int(value))


def samples(result, now, duration, rooms=None, error=None):
    """(family, labels dict, value) for one run.

    result: a check_server result (None when the run failed before it); rooms: room health
    results ({room_id, servers, unreachable, backing_off}); error: why the run failed, if it did."""
    out = []
    if result is not None:
        name = result.get('server_name')
        base = {'server_name': name}
        out.append(('ok', base, bool(result.get('federation_ok'))))
        for impl, reachable in sorted((result.get('reachable_from') or {}).items()):
            out.append(('reachable', dict(base, implementation=impl), bool(reachable)))
        out.append(('errors', base, len(result.get('errors') or [])))
        out.append(('warnings', base, len(result.get('warnings') or result.get('warning_findings') or [])))
        for address in result.get('addresses') or []:
            labels = dict(base, address=address.get('address'), port=address.get('port'))
            out.append(('address_ok', labels, bool(address.get('ok'))))
            seconds_left = (address.get('certificate') or {}).get('seconds_left')
            if isinstance(seconds_left, (int, float)) and not isinstance(seconds_left, bool):
                out.append(('certificate_expiry_seconds', labels, float(seconds_left)))
            valid_until = (address.get('keys') or {}).get('valid_until_ts')
            if isinstance(valid_until, int) and not isinstance(valid_until, bool):
                out.append(('signing_key_valid_until_timestamp_seconds', labels, valid_until / 1000.0))
    for room in rooms or []:
        labels = {'room_id': room.get('room_id')}
        out.append(('room_servers', labels, len(room.get('servers') or [])))
        out.append(('room_servers_unreachable', labels, len(room.get('unreachable_servers') or [])))
        if room.get('admin_api'):
            out.append(('destinations_backing_off', labels, len(room.get('backing_off') or [])))
    run_labels = {'error': error} if error else {}
    out.append(('check_success', run_labels, error is None))
    out.append(('check_timestamp_seconds', {}, float(now)))
    out.append(('check_duration_seconds', {}, float(duration)))
    return out


def render(sample_list):
    """The exposition text: families in FAMILIES order, each with HELP and TYPE once."""
    lines = []
    for family, kind, help_text in FAMILIES:
        rows = [(labels, value) for fam, labels, value in sample_list if fam == family]
        if not rows:
            continue
        lines.append('# HELP %s%s %s' % (PREFIX, family, help_text))
        lines.append('# TYPE %s%s %s' % (PREFIX, family, kind))
        for labels, value in rows:
            label_text = ','.join('%s="%s"' % (key, escape_label(val)) for key, val in sorted(labels.items())
                                  if val is not None)
            lines.append('%s%s%s %s' % (PREFIX, family, '{%s}' % label_text if label_text else '', _number(value)))
    return '\n'.join(lines) + '\n'
