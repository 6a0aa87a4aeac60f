# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Synapse workers: which worker kind serves which endpoints, how the proxy balances them, and
the configuration each process gets.

Facts from Synapse's docs/workers.md (element-hq/synapse, read at a58ad44e; nothing copied but the
endpoint patterns, which are protocol facts): the federation endpoints a generic_worker can
serve; inbound `/_matrix/federation/v1/send/` balanced by source IP so that transactions of one
remote server go to one process, the rest round robin; outbound federation by the workers named
in `federation_sender_instances` (no REST endpoints); the media repository's prefixes and
`enable_media_repo: false` on the main process with one `media_instance_running_background_jobs`;
the main process in `instance_map` at its HTTP `replication` listener, which must never be public.

A worker is a dict {name, type, host, port}: ``type`` is one of WORKER_TYPES, ``host`` the
inventory host it runs on, ``port`` its HTTP listener (none for a federation sender).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The federation endpoints of a generic_worker other than inbound /send (docs/workers.md,
# "synapse.app.generic_worker", federation requests).
FEDERATION_READER_PATHS = (
    '^/_matrix/federation/v1/version$',
    '^/_matrix/federation/v1/event/',
    '^/_matrix/federation/v1/state/',
    '^/_matrix/federation/v1/state_ids/',
    '^/_matrix/federation/v1/backfill/',
    '^/_matrix/federation/v1/get_missing_events/',
    '^/_matrix/federation/v1/publicRooms',
    '^/_matrix/federation/v1/query/',
    '^/_matrix/federation/v1/make_join/',
    '^/_matrix/federation/v1/make_leave/',
    '^/_matrix/federation/(v1|v2)/send_join/',
    '^/_matrix/federation/(v1|v2)/send_leave/',
    '^/_matrix/federation/v1/make_knock/',
    '^/_matrix/federation/v1/send_knock/',
    '^/_matrix/federation/(v1|v2)/invite/',
    '^/_matrix/federation/v1/event_auth/',
    '^/_matrix/federation/v1/timestamp_to_event/',
    '^/_matrix/federation/v1/exchange_third_party_invite/',
    '^/_matrix/federation/v1/user/devices/',
    '^/_matrix/key/v2/query',
    '^/_matrix/federation/v1/hierarchy/',
)

# Inbound federation transactions (docs/workers.md: balanced by source IP).
FEDERATION_INBOUND_PATHS = ('^/_matrix/federation/v1/send/',)

# Client-server reads a generic_worker serves without a stream writer of its own
# (docs/workers.md, client API requests; the writes and the stream-writer endpoints stay on main).
CLIENT_READER_PATHS = (
    '^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$',
    '^/_matrix/client/v1/rooms/.*/hierarchy$',
    '^/_matrix/client/(v1|unstable)/rooms/.*/relations/',
    '^/_matrix/client/v1/rooms/.*/threads$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/search$',
    '^/_matrix/client/(r0|v3|unstable)/capabilities$',
)

# The media repository (docs/workers.md, "synapse.app.media_repository").
MEDIA_PATHS = (
    '^/_matrix/media/',
    '^/_matrix/client/v1/media/',
    '^/_matrix/federation/v1/media/',
)

# type -> worker_app, listener resources, paths routed to it, proxy balancing.
# Order is the routing order (the patterns are disjoint; inbound /send first all the same).
WORKER_TYPES = {
    'federation_inbound': {'app': 'synapse.app.generic_worker', 'resources': ('federation',),
                           'paths': FEDERATION_INBOUND_PATHS, 'balance': 'ip_hash'},
    'federation_reader': {'app': 'synapse.app.generic_worker', 'resources': ('federation', 'keys'),
                          'paths': FEDERATION_READER_PATHS, 'balance': 'round_robin'},
    'media': {'app': 'synapse.app.media_repository', 'resources': ('media',),
              'paths': MEDIA_PATHS, 'balance': 'round_robin'},
    'client_reader': {'app': 'synapse.app.generic_worker', 'resources': ('client',),
                      'paths': CLIENT_READER_PATHS, 'balance': 'round_robin'},
    'federation_sender': {'app': 'synapse.app.generic_worker', 'resources': (),
                          'paths': (), 'balance': None},
}

# Synapse's instance names: the main process is `main`; systemd instance names and file names
# use the same string, so keep it to what is safe in both.
_NAME = re.compile(r'^[a-z][a-z0-9_-]{0,62}$')
_KEYS = frozenset(('name', 'type', 'host', 'port'))


def _is_port(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def worker_errors(workers, hosts=None, variable='synapse_workers'):
    """Sentences, one per problem, naming the variable and the entry; [] when usable.

    hosts: the inventory host names a worker may run on (None: not checked).
    """
    if not isinstance(workers, list):
        return ['%s must be a list of {name, type, host, port} (got %r).' % (variable, workers)]
    errors = []
    names = set()
    listeners = set()
    for index, worker in enumerate(workers):
        where = '%s[%d]' % (variable, index)
        if not isinstance(worker, dict):
            errors.append('%s must be a mapping {name, type, host, port} (got %r).' % (where, worker))
            continue
        unknown = sorted(set(worker) - _KEYS)
        if unknown:
            errors.append('%s has unknown keys %s (allowed: host, name, port, type).' % (where, ', '.join(unknown)))
        name = worker.get('name')
        if not isinstance(name, str) or not _NAME.match(name) or name == 'main':
            errors.append('%s.name must be a lower-case name of letters, digits, _ and - starting with a letter, '
                          'not main (got %r).' % (where, name))
        elif name in names:
            errors.append('%s.name %r is used twice: worker names are unique.' % (where, name))
        else:
            names.add(name)
        kind = worker.get('type')
        if kind not in WORKER_TYPES:
            errors.append('%s.type must be one of %s (got %r).' % (where, ', '.join(sorted(WORKER_TYPES)), kind))
            continue
        host = worker.get('host')
        if not isinstance(host, str) or not host:
            errors.append('%s.host must be the inventory name of the host it runs on (got %r).' % (where, host))
        elif hosts is not None and host not in hosts:
            errors.append('%s.host %r is not a host of the inventory.' % (where, host))
        port = worker.get('port')
        if WORKER_TYPES[kind]['paths']:
            if not _is_port(port):
                errors.append('%s.port must be a port 1-65535 for its HTTP listener (got %r).' % (where, port))
            elif (host, port) in listeners:
                errors.append('%s.port %d is used twice on host %r.' % (where, port, host))
            else:
                listeners.add((host, port))
        elif port is not None:
            errors.append('%s.port must be left out: a %s serves no HTTP endpoints (got %r).' % (where, kind, port))
    return errors


def workers_on(workers, host):
    """The workers that run on inventory host ``host``, in the given order."""
    return [w for w in workers if w['host'] == host]


def stale_workers(file_names, workers, host):
    """The workers whose files (``<name>.yaml``, as listed in a worker configuration directory of
    ``host``) are there but that no longer run on ``host``: taken out of ``workers`` or moved to
    another host. Other files are not workers and are left alone. Sorted names."""
    keep = set(w['name'] for w in workers_on(workers, host))
    names = set()
    for file_name in file_names:
        if isinstance(file_name, str) and file_name.endswith('.yaml') and '/' not in file_name:
            name = file_name[:-len('.yaml')]
            if name and name not in keep:
                names.add(name)
    return sorted(names)


def federation_sender_instances(workers):
    return [w['name'] for w in workers if w['type'] == 'federation_sender']


def shared_config(workers, main_address, replication_port):
    """What the shared homeserver.yaml gains when there are workers (empty dict: none).

    main_address: where the workers reach the main process's replication listener.
    """
    if not workers:
        return {}
    config = {
        'instance_map': {'main': {'host': main_address, 'port': replication_port}},
    }
    senders = federation_sender_instances(workers)
    if senders:
        config['federation_sender_instances'] = senders
    media = [w['name'] for w in workers if w['type'] == 'media']
    if media:
        config['enable_media_repo'] = False
        config['media_instance_running_background_jobs'] = media[0]
    return config


def main_listeners(workers, address, replication_port):
    """The replication listener the main process adds when there are workers ([] otherwise)."""
    if not workers:
        return []
    return [{'port': replication_port, 'bind_addresses': [address], 'type': 'http', 'tls': False,
             'x_forwarded': False, 'resources': [{'names': ['replication'], 'compress': False}]}]


def worker_config(worker, bind_address):
    """The worker's own configuration file, read after the shared homeserver.yaml."""
    kind = WORKER_TYPES[worker['type']]
    config = {'worker_app': kind['app'], 'worker_name': worker['name']}
    if kind['resources']:
        config['worker_listeners'] = [{
            'type': 'http', 'port': worker['port'], 'bind_addresses': [bind_address], 'tls': False,
            'x_forwarded': True, 'resources': [{'names': list(kind['resources']), 'compress': False}],
        }]
    return config


def routing_table(workers, addresses):
    """The proxy's routes to workers: a list of {pool, paths, upstreams, lb_policy}, in order.

    One pool per worker type that has workers with HTTP endpoints; ``addresses`` maps each
    inventory host to the address the proxy reaches it at. What matches no route goes to main.
    """
    table = []
    for kind, spec in WORKER_TYPES.items():
        if not spec['paths']:
            continue
        upstreams = []
        for worker in workers:
            if worker['type'] != kind:
                continue
            if worker['host'] not in addresses:
                raise ValueError('no address for host %r of worker %r' % (worker['host'], worker['name']))
            upstreams.append(join_host_port(addresses[worker['host']], worker['port']))
        if upstreams:
            table.append({'pool': kind, 'paths': list(spec['paths']), 'upstreams': upstreams,
                          'lb_policy': spec['balance']})
    return table


def join_host_port(host, port):
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def combined_regexp(paths):
    """One RE2 pattern matching any of ``paths`` (Caddy takes one path_regexp per matcher)."""
    return '|'.join('(?:%s)' % path for path in paths)
