# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""_workers: the worker list checked, the per-host plan and the proxy's routing table."""

from __future__ import absolute_import, division, print_function

import re

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._routes import ROUTE_PROBES, probe_path
from ansible_collections.mxfed.federation.plugins.module_utils._workers import (
    WORKER_TYPES,
    combined_regexp,
    federation_sender_instances,
    main_listeners,
    routing_table,
    shared_config,
    stale_workers,
    worker_config,
    worker_errors,
    workers_on,
)

WORKERS = [
    {'name': 'fed-in1', 'type': 'federation_inbound', 'host': 'w1', 'port': 8083},
    {'name': 'fed-in2', 'type': 'federation_inbound', 'host': 'w2', 'port': 8083},
    {'name': 'fed-reader1', 'type': 'federation_reader', 'host': 'w1', 'port': 8084},
    {'name': 'sender1', 'type': 'federation_sender', 'host': 'w1'},
    {'name': 'sender2', 'type': 'federation_sender', 'host': 'w2'},
    {'name': 'media1', 'type': 'media', 'host': 'w2', 'port': 8085},
]


def test_a_good_list_has_no_errors():
    assert worker_errors(WORKERS, hosts=['w1', 'w2']) == []
    assert worker_errors([]) == []


@pytest.mark.parametrize('workers, expected', [
    ('fed', r'^synapse_workers must be a list'),
    ([1], r'^synapse_workers\[0\] must be a mapping'),
    ([{'name': 'a', 'type': 'nope', 'host': 'w1', 'port': 1}], r"synapse_workers\[0\]\.type must be one of .*got 'nope'"),
    ([{'name': 'main', 'type': 'media', 'host': 'w1', 'port': 1}], r'synapse_workers\[0\]\.name .*not main'),
    ([{'name': 'Bad Name', 'type': 'media', 'host': 'w1', 'port': 1}], r'synapse_workers\[0\]\.name must be'),
    ([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': 0}], r'synapse_workers\[0\]\.port must be a port'),
    ([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': True}], r'synapse_workers\[0\]\.port must be a port'),
    ([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': '8083'}], r'synapse_workers\[0\]\.port must be a port'),
    ([{'name': 'a', 'type': 'federation_sender', 'host': 'w1', 'port': 8083}], r'port must be left out'),
    ([{'name': 'a', 'type': 'media', 'host': '', 'port': 8083}], r'\.host must be the inventory name'),
    ([{'name': 'a', 'type': 'media', 'host': 'w9', 'port': 8083}], r"\.host 'w9' is not a host of the inventory"),
    ([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': 8083, 'ports': 1}], r'unknown keys ports'),
    ([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': 8083},
      {'name': 'a', 'type': 'federation_sender', 'host': 'w1'}], r"\[1\]\.name 'a' is used twice"),
    ([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': 8083},
      {'name': 'b', 'type': 'client_reader', 'host': 'w1', 'port': 8083}], r'\[1\]\.port 8083 is used twice on host'),
])
def test_bad_lists_are_refused_naming_the_entry(workers, expected):
    errors = worker_errors(workers, hosts=['w1', 'w2'])
    assert len(errors) == 1, errors
    assert re.search(expected, errors[0]), errors[0]


def test_the_same_port_on_two_hosts_is_fine():
    assert worker_errors([{'name': 'a', 'type': 'media', 'host': 'w1', 'port': 8083},
                          {'name': 'b', 'type': 'media', 'host': 'w2', 'port': 8083}]) == []


def test_shared_config():
    assert shared_config([], '10.0.0.2', 9093) == {}
    assert shared_config(WORKERS, '10.0.0.2', 9093) == {
        'instance_map': {'main': {'host': '10.0.0.2', 'port': 9093}},
        'federation_sender_instances': ['sender1', 'sender2'],
        'enable_media_repo': False,
        'media_instance_running_background_jobs': 'media1',
    }
    only_inbound = [WORKERS[0]]
    assert 'federation_sender_instances' not in shared_config(only_inbound, 'a', 1)
    assert 'enable_media_repo' not in shared_config(only_inbound, 'a', 1)


def test_main_listeners_bind_replication_to_the_given_address_only():
    assert main_listeners([], '10.0.0.2', 9093) == []
    (listener,) = main_listeners(WORKERS, '10.0.0.2', 9093)
    assert listener['bind_addresses'] == ['10.0.0.2']
    assert listener['resources'] == [{'names': ['replication'], 'compress': False}]


def test_worker_config():
    assert worker_config(WORKERS[0], '10.0.0.3') == {
        'worker_app': 'synapse.app.generic_worker', 'worker_name': 'fed-in1',
        'worker_listeners': [{'type': 'http', 'port': 8083, 'bind_addresses': ['10.0.0.3'], 'tls': False,
                              'x_forwarded': True, 'resources': [{'names': ['federation'], 'compress': False}]}]}
    assert worker_config(WORKERS[3], '10.0.0.3') == {'worker_app': 'synapse.app.generic_worker',
                                                     'worker_name': 'sender1'}
    assert worker_config(WORKERS[5], '10.0.0.4')['worker_app'] == 'synapse.app.media_repository'


def test_workers_on_and_senders():
    assert [w['name'] for w in workers_on(WORKERS, 'w2')] == ['fed-in2', 'sender2', 'media1']
    assert federation_sender_instances(WORKERS) == ['sender1', 'sender2']


def test_routing_table():
    table = routing_table(WORKERS, {'w1': '10.0.0.3', 'w2': 'fd00::4'})
    assert [(r['pool'], r['upstreams'], r['lb_policy']) for r in table] == [
        ('federation_inbound', ['10.0.0.3:8083', '[fd00::4]:8083'], 'ip_hash'),
        ('federation_reader', ['10.0.0.3:8084'], 'round_robin'),
        ('media', ['[fd00::4]:8085'], 'round_robin'),
    ]
    with pytest.raises(ValueError, match="no address for host 'w2'"):
        routing_table(WORKERS, {'w1': '10.0.0.3'})


# Which pool a request path lands in: the first route whose pattern matches, else main.
@pytest.mark.parametrize('path, pool', [
    ('/_matrix/federation/v1/send/1700000000000', 'federation_inbound'),
    ('/_matrix/federation/v1/send_join/!r:x/$e', 'federation_reader'),
    ('/_matrix/federation/v2/send_join/!r:x/$e', 'federation_reader'),
    ('/_matrix/federation/v1/version', 'federation_reader'),
    ('/_matrix/federation/v1/versions', 'main'),
    ('/_matrix/key/v2/query', 'federation_reader'),
    ('/_matrix/key/v2/server', 'main'),
    ('/_matrix/federation/v1/make_join/!r:x/@u:x', 'federation_reader'),
    ('/_matrix/federation/v1/media/download/abc', 'media'),
    ('/_matrix/media/v3/download/x/y', 'media'),
    ('/_matrix/client/v1/media/download/x/y', 'media'),
    ('/_matrix/client/v3/rooms/!r:x/members', 'client_reader'),
    ('/_matrix/client/v3/rooms/!r:x/send/m.room.message/1', 'main'),
    ('/_matrix/client/v3/sync', 'main'),
    ('/_matrix/federation/v1/user/keys/query', 'main'),
])
def test_paths_land_in_their_pool(path, pool):
    workers = WORKERS + [{'name': 'client1', 'type': 'client_reader', 'host': 'w1', 'port': 8086}]
    table = routing_table(workers, {'w1': '10.0.0.3', 'w2': '10.0.0.4'})
    got = next((r['pool'] for r in table if re.search(combined_regexp(r['paths']), path)), 'main')
    assert got == pool


def test_every_type_with_paths_has_a_listener_resource_and_a_balance():
    for kind, spec in WORKER_TYPES.items():
        assert bool(spec['paths']) == bool(spec['resources']) == bool(spec['balance']), kind
        for path in spec['paths']:
            assert path.startswith('^/_matrix/'), path
            re.compile(path)


# The delegation check's route probes (plugins/module_utils/_routes.py) each ask one pool: a
# `route_backend_unavailable` for a route then names that pool's workers (lab_workers' outage.yml
# maps the finding back through this same table).
@pytest.mark.parametrize('route, pool', [
    ('transactions', 'federation_inbound'),
    ('queries', 'federation_reader'),
    ('key_queries', 'federation_reader'),
    ('media', 'media'),
])
def test_each_route_probe_lands_in_the_pool_it_is_named_for(route, pool):
    workers = WORKERS + [{'name': 'client1', 'type': 'client_reader', 'host': 'w1', 'port': 8086}]
    table = routing_table(workers, {'w1': '10.0.0.3', 'w2': '10.0.0.4'})
    (probe,) = [p for p in ROUTE_PROBES if p.route == route]
    path = probe_path(probe, 'mxfed-check-0123456789ab').split('?')[0]
    pools = [r['pool'] for r in table if re.search(combined_regexp(r['paths']), path)]
    assert pools[:1] == [pool], (path, pools)


def test_the_route_probes_cover_every_federation_pool():
    paths = [probe_path(p, 'x').split('?')[0] for p in ROUTE_PROBES]
    for kind in ('federation_inbound', 'federation_reader', 'media'):
        assert any(re.search(combined_regexp(WORKER_TYPES[kind]['paths']), path) for path in paths), kind


def test_stale_workers_are_those_no_longer_on_the_host():
    files = ['fed-in1.yaml', 'fed-reader1.yaml', 'sender1.yaml', 'old-reader.yaml', 'fed-in2.yaml']
    # fed-in2 moved to w2; old-reader was taken out of the list; the rest still run on w1
    assert stale_workers(files, WORKERS, 'w1') == ['fed-in2', 'old-reader']
    assert stale_workers(files, WORKERS, 'w2') == ['fed-in1', 'fed-reader1', 'old-reader', 'sender1']


def test_stale_workers_when_the_list_is_empty_are_all_of_them():
    assert stale_workers(['b.yaml', 'a.yaml'], [], 'w1') == ['a', 'b']


@pytest.mark.parametrize('name', ['notes.txt', 'fed-in1.yaml~', '.yaml', 'sub/x.yaml', 'x.yml', None])
def test_stale_workers_leave_other_files_alone(name):
    assert stale_workers([name], [], 'w1') == []
