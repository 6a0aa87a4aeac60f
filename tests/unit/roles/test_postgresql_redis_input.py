# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Bad input to the postgresql and redis roles is refused naming the variable (ansible-playbook on
localhost, check mode: validation fails before any task touches the host); good input passes
their checks. What the roles do on a host is proven in extensions/molecule/lab_workers."""

from __future__ import absolute_import, division, print_function

import pytest

from _role_cases import run_role_cases

CASES = [
    ('pg_wildcard', 'postgresql', 'main', {'postgresql_listen_addresses': ['0.0.0.0']},
     'postgresql_listen_addresses: "0.0.0.0" is not a private IP address'),
    ('pg_public', 'postgresql', 'main', {'postgresql_listen_addresses': ['8.8.8.8']},
     'postgresql_listen_addresses: "8.8.8.8" is not a private IP address'),
    ('pg_everyone', 'postgresql', 'main', {'postgresql_allowed_hosts': ['0.0.0.0/0']},
     'postgresql_allowed_hosts: "0.0.0.0/0" would allow every host'),
    ('pg_name', 'postgresql', 'main', {'postgresql_allowed_hosts': ['db.example']},
     'postgresql_allowed_hosts: "db.example" must be an IP address or CIDR'),
    ('pg_db', 'postgresql', 'main', {'postgresql_db_name': 'Syn-apse'}, 'postgresql_db_name must be a lower-case identifier'),
    ('pg_owner', 'postgresql', 'main', {'postgresql_db_owner': 'postgres'}, 'postgresql_db_owner must be'),
    ('pg_port', 'postgresql', 'main', {'postgresql_port': 0}, 'postgresql_port must be a port'),
    ('pg_list', 'postgresql', 'main', {'postgresql_allowed_hosts': '10.0.0.3'},
     'postgresql_allowed_hosts must be a list of IP addresses or CIDRs (got "10.0.0.3")'),
    ('redis_missing', 'redis', 'main', {}, 'redis_listen_address'),
    ('redis_wildcard', 'redis', 'main', {'redis_listen_address': '0.0.0.0'},
     'redis_listen_address must be a private IP address'),
    ('redis_public', 'redis', 'main', {'redis_listen_address': '8.8.8.8'},
     'redis_listen_address must be a private IP address'),
    ('redis_port', 'redis', 'main', {'redis_listen_address': '10.0.0.5', 'redis_port': 70000}, 'redis_port must be a port'),
    ('redis_password', 'redis', 'main', {'redis_listen_address': '10.0.0.5', 'redis_password': 'a b'},
     'redis_password must be letters'),
    # Good input passes the checks (only the checks run).
    ('pg_good', 'postgresql', 'assert', {'postgresql_listen_addresses': ['172.30.131.5', 'fd00::5'],
                                         'postgresql_allowed_hosts': ['172.30.131.3', '172.30.131.0/28']}, None),
    ('redis_good', 'redis', 'assert', {'redis_listen_address': '172.30.131.5', 'redis_password': 'abc123'}, None),
]


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    return run_role_cases(tmp_path_factory.mktemp('pg_redis_input'),
                          [(case_id, role, None if entry == 'main' else entry, case_vars)
                           for case_id, role, entry, case_vars, unused in CASES])


@pytest.mark.parametrize('case_id, role, entry, case_vars, expected', CASES, ids=[c[0] for c in CASES])
def test_input(results, case_id, role, entry, case_vars, expected):
    if expected is None:
        assert results[case_id] == 'PASSED'
    else:
        assert expected in results[case_id], results[case_id]
