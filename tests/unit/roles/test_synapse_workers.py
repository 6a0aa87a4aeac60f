# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The synapse role with workers, through ansible-playbook on localhost (nothing installed):

- the role's own templates rendered for a main host and a worker host of one inventory: the
  replication listener bound to the private address only, instance_map, redis with a
  password file, federation_sender_instances, the worker files and the template unit;
- bad worker input refused by the role (argument_specs and its assert) naming the variable.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ROLE = os.path.join(REPO, 'roles', 'synapse')

WORKERS = [
    {'name': 'fed-inbound1', 'type': 'federation_inbound', 'host': 'wrk-workers', 'port': 8083},
    {'name': 'fed-reader1', 'type': 'federation_reader', 'host': 'wrk-workers', 'port': 8084},
    {'name': 'fed-sender1', 'type': 'federation_sender', 'host': 'wrk-workers'},
]
COMMON = {
    'synapse_server_name': 'alpha.test', 'synapse_workers': WORKERS, 'synapse_database': 'postgresql',
    'synapse_postgres_host': '172.30.131.5', 'synapse_redis_enabled': True, 'synapse_redis_host': '172.30.131.5',
    'synapse_redis_password': 'pw',
}
HOSTVARS = {
    'wrk-main': {'synapse_private_address': '172.30.131.3', 'synapse_listen_address': '172.30.131.3'},
    'wrk-workers': {'synapse_private_address': '172.30.131.4', 'synapse_main_host': 'wrk-main'},
}


def _env():
    env = dict(os.environ)
    env.update({'ANSIBLE_COLLECTIONS_PATH': os.path.join(REPO, '.ansible', 'collections'),
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
                'ANSIBLE_RETRY_FILES_ENABLED': 'false', 'ANSIBLE_NOCOLOR': '1'})
    return env


def _run(tmp, playbook, inventory, check=False):
    (tmp / 'play.yml').write_text(json.dumps(playbook), encoding='utf-8')
    (tmp / 'inventory.yml').write_text(json.dumps(inventory), encoding='utf-8')
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    argv = [binary, '-i', str(tmp / 'inventory.yml'), str(tmp / 'play.yml')] + (['--check'] if check else [])
    return subprocess.run(argv, cwd=str(tmp), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


def _inventory(extra=None):
    hosts = {}
    for name, hvars in HOSTVARS.items():
        hosts[name] = dict(hvars, ansible_connection='local', ansible_python_interpreter=sys.executable)
    with open(os.path.join(ROLE, 'defaults', 'main.yml'), encoding='utf-8') as fh:
        defaults = yaml.safe_load(fh)
    # The role's defaults under the inventory's values, as Ansible ranks them.
    return {'all': {'hosts': hosts, 'vars': dict(defaults, **dict(COMMON, **(extra or {})))}}


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('synapse_workers')
    out = str(tmp)
    templates = os.path.join(ROLE, 'templates')
    play = [{
        'name': 'Render the synapse templates', 'hosts': 'all', 'gather_facts': False,
        'vars_files': [os.path.join(ROLE, 'vars', 'main.yml')],
        'tasks': [
            {'name': 'homeserver.yaml', 'ansible.builtin.copy': {
                'content': "{{ lookup('ansible.builtin.template', '%s/homeserver.yaml.j2') }}" % templates,
                'dest': out + '/{{ inventory_hostname }}-homeserver.yaml', 'mode': '0600'}},
            {'name': 'unit', 'ansible.builtin.copy': {
                'content': "{{ lookup('ansible.builtin.template', '%s/synapse-worker@.service.j2') }}" % templates,
                'dest': out + '/{{ inventory_hostname }}-worker.service', 'mode': '0600'}},
            {'name': 'worker files', 'ansible.builtin.copy': {
                'content': "{{ lookup('ansible.builtin.template', '%s/worker.yaml.j2') }}" % templates,
                'dest': out + '/{{ inventory_hostname }}-{{ __synapse_worker.name }}.yaml', 'mode': '0600'},
             'loop': '{{ __synapse_worker_plan.local }}', 'loop_control': {'loop_var': '__synapse_worker'}},
            {'name': 'shared files', 'ansible.builtin.copy': {
                'content': '{{ __synapse_shared_files | to_json }}',
                'dest': out + '/{{ inventory_hostname }}-shared.json', 'mode': '0600'}},
        ],
    }]
    proc = _run(tmp, play, _inventory())
    assert proc.returncode == 0, proc.stdout[-4000:]

    def load(name):
        with open(os.path.join(out, name), encoding='utf-8') as fh:
            return fh.read()
    return load


def test_main_gets_a_replication_listener_on_the_private_address_only(rendered):
    config = yaml.safe_load(rendered('wrk-main-homeserver.yaml'))
    replication = [lst for lst in config['listeners'] if lst['resources'][0]['names'] == ['replication']]
    assert replication == [{'port': 9093, 'bind_addresses': ['172.30.131.3'], 'type': 'http', 'tls': False,
                            'x_forwarded': False, 'resources': [{'names': ['replication'], 'compress': False}]}]
    assert config['instance_map'] == {'main': {'host': '172.30.131.3', 'port': 9093}}
    assert config['federation_sender_instances'] == ['fed-sender1']
    assert config['worker_replication_secret_path'] == '/etc/synapse/worker_replication_secret'
    assert config['redis'] == {'enabled': True, 'host': '172.30.131.5', 'port': 6379,
                               'password_path': '/etc/synapse/redis_password'}
    assert 'worker_replication_secret' not in config and 'password' not in config['redis']
    assert 'enable_media_repo' not in config


def test_worker_host_shares_the_main_configuration(rendered):
    main = yaml.safe_load(rendered('wrk-main-homeserver.yaml'))
    worker = yaml.safe_load(rendered('wrk-workers-homeserver.yaml'))
    # Same shared file: the workers find main at its private address.
    assert worker['instance_map'] == main['instance_map']
    assert worker['redis'] == main['redis']
    assert json.loads(rendered('wrk-workers-shared.json')) == json.loads(rendered('wrk-main-shared.json')) == [
        '/etc/synapse/alpha.test.signing.key', '/etc/synapse/registration_shared_secret',
        '/etc/synapse/macaroon_secret_key', '/etc/synapse/form_secret', '/etc/synapse/worker_replication_secret']


def test_worker_files(rendered):
    inbound = yaml.safe_load(rendered('wrk-workers-fed-inbound1.yaml'))
    assert inbound['worker_app'] == 'synapse.app.generic_worker'
    assert inbound['worker_name'] == 'fed-inbound1'
    assert inbound['worker_listeners'][0]['bind_addresses'] == ['172.30.131.4']
    assert inbound['worker_listeners'][0]['port'] == 8083
    sender = yaml.safe_load(rendered('wrk-workers-fed-sender1.yaml'))
    assert sender == {'worker_app': 'synapse.app.generic_worker', 'worker_name': 'fed-sender1'}
    with pytest.raises(FileNotFoundError):
        rendered('wrk-main-fed-inbound1.yaml')


def test_template_unit(rendered):
    unit = rendered('wrk-workers-worker.service')
    assert ('ExecStart=/opt/synapse/venv/bin/python -m synapse.app.generic_worker '
            '--config-path=/etc/synapse/homeserver.yaml --config-path=/etc/matrix-synapse/workers/%i.yaml') in unit
    assert 'SyslogIdentifier=synapse-%i' in unit


BAD = [
    ('sqlite', {'synapse_database': 'sqlite'}, 'wrk-main', 'synapse_workers need synapse_database postgresql'),
    ('no_redis', {'synapse_redis_enabled': False}, 'wrk-main', 'synapse_workers need synapse_redis_enabled true'),
    ('wildcard', {'synapse_private_address': '0.0.0.0'}, 'wrk-main', 'synapse_private_address must be a private IP'),
    ('public', {'synapse_private_address': '8.8.8.8'}, 'wrk-main', 'synapse_private_address must be a private IP'),
    ('unknown_main', {'synapse_main_host': 'nowhere'}, 'wrk-workers', 'synapse_main_host must be empty'),
    ('self_main', {'synapse_main_host': 'wrk-workers'}, 'wrk-workers', 'synapse_main_host must be empty'),
    ('bad_type', {'synapse_workers': [{'name': 'x', 'type': 'pusher', 'host': 'wrk-main', 'port': 1}]},
     'wrk-main', 'synapse_workers'),
    ('dup_name', {'synapse_workers': WORKERS + [{'name': 'fed-sender1', 'type': 'federation_sender',
                                                 'host': 'wrk-main'}]},
     'wrk-main', "synapse_workers[3].name 'fed-sender1' is used twice"),
    ('sender_port', {'synapse_workers': [{'name': 'x', 'type': 'federation_sender', 'host': 'wrk-main',
                                          'port': 8083}]}, 'wrk-main', 'synapse_workers[0].port must be left out'),
    ('unknown_host', {'synapse_workers': [{'name': 'x', 'type': 'media', 'host': 'wrk-nope', 'port': 8083}]},
     'wrk-main', "synapse_workers[0].host 'wrk-nope' is not a host of the inventory"),
    ('replication_port', {'synapse_replication_port': 70000}, 'wrk-main', 'synapse_replication_port must be a port'),
    ('redis_port', {'synapse_redis_port': 0}, 'wrk-main', 'synapse_redis_port must be a port'),
    ('no_local_worker', {'synapse_main_host': 'wrk-main'}, 'wrk-main', 'synapse_main_host must be empty'),
]


@pytest.fixture(scope='module')
def refused(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('synapse_workers_bad')
    out = str(tmp / 'results.json')
    tasks = []
    for case_id, case_vars, host, unused in BAD:
        tasks.append({'name': 'Case %s' % case_id, 'when': "inventory_hostname == '%s'" % host, 'block': [
            {'name': 'Include the role (%s)' % case_id, 'ansible.builtin.include_role': {'name': 'mxfed.federation.synapse'},
             'vars': case_vars},
            {'name': 'Not reached', 'ansible.builtin.fail': {'msg': 'NOT REACHED'}},
        ], 'rescue': [{'name': 'Record', 'ansible.builtin.set_fact': {
            'results': '{{ results | combine({%s: ansible_failed_result.msg | default("") | string}) }}'
                       % json.dumps(case_id)}}]})
    # The good inventory passes the same checks on both hosts.
    tasks.append({'name': 'Case good', 'block': [
        {'name': 'Check the good input', 'ansible.builtin.include_role': {'name': 'mxfed.federation.synapse',
                                                                          'tasks_from': 'assert'}},
        {'name': 'Record good', 'ansible.builtin.set_fact': {'results': '{{ results | combine({"good": "passed"}) }}'}},
    ], 'rescue': [{'name': 'Record', 'ansible.builtin.set_fact': {
        'results': '{{ results | combine({"good": ansible_failed_result.msg | default("") | string}) }}'}}]})
    tasks.append({'name': 'Write', 'ansible.builtin.copy': {'content': '{{ results | to_json }}',
                                                            'dest': out + '.{{ inventory_hostname }}', 'mode': '0600'},
                  'check_mode': False})
    play = [{'name': 'Bad worker input', 'hosts': 'all', 'gather_facts': False, 'vars': {'results': {}},
             'tasks': tasks}]
    proc = _run(tmp, play, _inventory(), check=True)
    results = {}
    for host in HOSTVARS:
        assert os.path.exists(out + '.' + host), proc.stdout[-4000:]
        with open(out + '.' + host, encoding='utf-8') as fh:
            found = json.load(fh)
        results['good ' + host] = found.pop('good')
        results.update(found)
    return results


@pytest.mark.parametrize('host', sorted(HOSTVARS))
def test_the_good_inventory_passes_the_checks(refused, host):
    assert refused['good ' + host] == 'passed'


@pytest.mark.parametrize('case_id, case_vars, host, expected', BAD, ids=[c[0] for c in BAD])
def test_bad_worker_input_is_refused(refused, case_id, case_vars, host, expected):
    assert case_id in refused
    assert expected in refused[case_id], refused[case_id]
    assert 'NOT REACHED' not in refused[case_id]
