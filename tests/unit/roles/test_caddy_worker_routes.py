# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The caddy role's matrix routes with a routing table to Synapse workers.

The table comes from plugins/module_utils/_workers.py (one data structure: path regexps -> pool,
balancing), the role's own template renders it (through ansible-playbook, as the role does),
and the real Caddy adapts and validates the result: the pools in the table's order before the
main backend, inbound /send by ip_hash, readers round robin. Without workers the output is what
it was before workers existed. Needs a caddy binary (PATH, or MXFED_CADDY); skipped without.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from _role_cases import run_role_cases
from ansible_collections.mxfed.federation.plugins.module_utils._workers import routing_table

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ROLE = os.path.join(REPO, 'roles', 'caddy')
# scripts/setup unpacks Debian's caddy there when none is on PATH.
UNPACKED = os.path.join(REPO, '.cache', 'tools', 'usr', 'bin', 'caddy')
CADDY = os.environ.get('MXFED_CADDY') or shutil.which('caddy') or (UNPACKED if os.access(UNPACKED, os.X_OK) else None)

WORKERS = [
    {'name': 'fed-inbound1', 'type': 'federation_inbound', 'host': 'w1', 'port': 8083},
    {'name': 'fed-inbound2', 'type': 'federation_inbound', 'host': 'w2', 'port': 8083},
    {'name': 'fed-reader1', 'type': 'federation_reader', 'host': 'w1', 'port': 8084},
    {'name': 'fed-sender1', 'type': 'federation_sender', 'host': 'w1'},
    {'name': 'client1', 'type': 'client_reader', 'host': 'w2', 'port': 8085},
    {'name': 'media1', 'type': 'media', 'host': 'w1', 'port': 8086},
]
TABLE = routing_table(WORKERS, {'w1': '172.30.131.4', 'w2': '172.30.131.6'})

# Without workers: the fragments as the role wrote them before workers existed.
PLAIN_CLIENT = """handle /_matrix/* {
\trequest_body {
\t\tmax_size 52428800
\t}
\treverse_proxy 127.0.0.1:8008
}
handle /_synapse/client/* {
\trequest_body {
\t\tmax_size 52428800
\t}
\treverse_proxy 127.0.0.1:8008
}
"""
PLAIN_FEDERATION = """handle /_matrix/* {
\trequest_body {
\t\tmax_size 52428800
\t}
\treverse_proxy 127.0.0.1:8008
}
"""


def _render(tmp, routes):
    with open(os.path.join(ROLE, 'defaults', 'main.yml'), encoding='utf-8') as fh:
        defaults = yaml.safe_load(fh)
    out = str(tmp)
    play = [{
        'name': 'Render matrix_routes', 'hosts': 'localhost', 'gather_facts': False,
        'vars_files': [os.path.join(ROLE, 'vars', 'main.yml')],
        'tasks': [{'name': 'Render', 'ansible.builtin.copy': {
            'content': "{{ lookup('ansible.builtin.template', '%s/templates/matrix_routes.caddy.j2') }}" % ROLE,
            'dest': out + "/{{ __caddy_matrix_site.address | regex_replace('[^a-z0-9.]', '_') }}.caddy", 'mode': '0600'},
            'loop': '{{ __caddy_matrix_sites }}', 'loop_control': {'loop_var': '__caddy_matrix_site'}}],
    }]
    inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                 'ansible_python_interpreter': sys.executable}},
                         'vars': dict(defaults, caddy_matrix_host='matrix.alpha.test',
                                      caddy_matrix_worker_routes=routes)}}
    (tmp / 'play.yml').write_text(json.dumps(play), encoding='utf-8')
    (tmp / 'inv.yml').write_text(json.dumps(inventory), encoding='utf-8')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.ansible', 'collections'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(tmp / 'inv.yml'),
                           str(tmp / 'play.yml')], cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(os.path.join(out, 'matrix.alpha.test.caddy'), encoding='utf-8') as fh:
        client = fh.read()
    with open(os.path.join(out, 'matrix.alpha.test_8448.caddy'), encoding='utf-8') as fh:
        federation = fh.read()
    return client, federation


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    return _render(tmp_path_factory.mktemp('caddy_workers'), TABLE)


def test_without_workers_the_routes_are_unchanged(tmp_path):
    assert _render(tmp_path, []) == (PLAIN_CLIENT, PLAIN_FEDERATION)


def test_the_table_is_rendered_in_order(rendered):
    client, federation = rendered
    for text in (client, federation):
        matchers = re.findall(r'^@mxfed_(\w+) path_regexp mxfed_\w+ "([^"]+)"$', text, re.M)
        assert [m[0] for m in matchers] == [r['pool'] for r in TABLE] == [
            'federation_inbound', 'federation_reader', 'media', 'client_reader']
        # The regexp of each pool is exactly its paths, one alternative each.
        for (pool, regexp), route in zip(matchers, TABLE):
            assert regexp == '|'.join('(?:%s)' % p for p in route['paths'])
        assert 'reverse_proxy 172.30.131.4:8083 172.30.131.6:8083 {\n\t\tlb_policy ip_hash\n\t}' in text
        assert 'reverse_proxy 172.30.131.4:8084 {\n\t\tlb_policy round_robin\n\t}' in text


def _adapt(tmp_path, client, federation):
    caddyfile = tmp_path / 'Caddyfile'
    caddyfile.write_text('{\n\tadmin off\n}\nhttp://matrix.alpha.test {\n%s}\nhttp://matrix.alpha.test:8448 {\n%s}\n'
                         % (client, federation), encoding='utf-8')
    for command in ('validate', 'adapt'):
        proc = subprocess.run([CADDY, command, '--adapter', 'caddyfile', '--config', str(caddyfile)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _handlers(route_list):
    """(matcher, upstreams, policy) in evaluation order, through subroutes."""
    out = []
    for route in route_list:
        match = route.get('match', [{}])[0]
        for handler in route.get('handle', []):
            if handler['handler'] == 'subroute':
                inner = _handlers(handler['routes'])
                out.extend((m or match, u, p) for m, u, p in inner)
            elif handler['handler'] == 'reverse_proxy':
                policy = handler.get('load_balancing', {}).get('selection_policy', {}).get('policy')
                out.append((match, [u['dial'] for u in handler['upstreams']], policy))
    return out


@pytest.mark.skipif(CADDY is None, reason='no caddy binary (PATH or MXFED_CADDY)')
def test_caddy_validates_and_routes_in_the_table_order(tmp_path, rendered):
    config = _adapt(tmp_path, *rendered)
    servers = config['apps']['http']['servers']
    (federation,) = [s for s in servers.values() if s['listen'] == [':8448']]
    order = _handlers(federation['routes'])
    assert [(sorted(m), u, p) for m, u, p in order] == [
        (['path_regexp'], ['172.30.131.4:8083', '172.30.131.6:8083'], 'ip_hash'),
        (['path_regexp'], ['172.30.131.4:8084'], 'round_robin'),
        (['path_regexp'], ['172.30.131.4:8086'], 'round_robin'),
        (['path_regexp'], ['172.30.131.6:8085'], 'round_robin'),
        (['path'], ['127.0.0.1:8008'], None),
    ]
    assert order[0][0]['path_regexp']['pattern'].startswith('(?:^/_matrix/federation/v1/send/)')


@pytest.mark.skipif(CADDY is None, reason='no caddy binary (PATH or MXFED_CADDY)')
def test_caddy_validates_the_plain_routes(tmp_path):
    _adapt(tmp_path, PLAIN_CLIENT, PLAIN_FEDERATION)


BAD = [
    ('pool', [{'pool': 'Bad-Pool', 'paths': ['^/x'], 'upstreams': ['10.0.0.3:1'], 'lb_policy': 'first'}],
     'caddy_matrix_worker_routes: pool "Bad-Pool" must be lower case'),
    ('duplicate', [{'pool': 'a', 'paths': ['^/x'], 'upstreams': ['10.0.0.3:1'], 'lb_policy': 'first'}] * 2,
     'every pool name must be unique'),
    ('path', [{'pool': 'a', 'paths': ['/_matrix/{x}'], 'upstreams': ['10.0.0.3:1'], 'lb_policy': 'first'}],
     'caddy_matrix_worker_routes: path "/_matrix/{x}" must be a regular expression starting with ^/'),
    ('upstream', [{'pool': 'a', 'paths': ['^/x'], 'upstreams': ['10.0.0.3'], 'lb_policy': 'first'}],
     'caddy_matrix_worker_routes: upstream "10.0.0.3" must be host:port'),
    ('empty', [{'pool': 'a', 'paths': [], 'upstreams': ['10.0.0.3:1'], 'lb_policy': 'first'}],
     'every route needs at least one path and one upstream'),
    ('policy', [{'pool': 'a', 'paths': ['^/x'], 'upstreams': ['10.0.0.3:1'], 'lb_policy': 'sticky'}],
     'lb_policy'),
    ('missing', [{'pool': 'a', 'paths': ['^/x'], 'lb_policy': 'first'}], 'upstreams'),
]


@pytest.fixture(scope='module')
def refused(tmp_path_factory):
    return run_role_cases(tmp_path_factory.mktemp('caddy_workers_bad'),
                          [(case_id, 'caddy', 'matrix_site', {'caddy_matrix_host': 'matrix.alpha.test',
                                                              'caddy_matrix_worker_routes': routes})
                           for case_id, routes, unused in BAD])


@pytest.mark.parametrize('case_id, routes, expected', BAD, ids=[c[0] for c in BAD])
def test_bad_routes_are_refused(refused, case_id, routes, expected):
    assert expected in refused[case_id], refused[case_id]
