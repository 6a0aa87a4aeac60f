# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The `mxfed.federation.server_name` test: a table of values and restrictions, run in Python and
once through ansible-playbook (the FQCN resolves, keyword arguments reach the test)."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.mxfed.federation.plugins.test import server_name as plugin

server_name = plugin.server_name

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

LONG_LABEL = 'a' * 63
NAME_236 = '.'.join([LONG_LABEL] * 3 + ['b' * 44])  # 236 characters
NAME_237 = NAME_236 + 'b'
NAME_253 = '.'.join([LONG_LABEL] * 3 + ['b' * 61])
NAME_254 = NAME_253 + 'b'

# value, keyword arguments, expected
CASES = [
    ('example.org', {}, True),
    ('matrix.example.org:8448', {}, True),
    ('matrix.example.org:8448', {'port': False}, False),
    ('example.org', {'port': False, 'ip': False}, True),
    ('1.2.3.4', {}, True),
    ('1.2.3.4', {'ip': False}, False),
    ('[2001:db8::1]:8448', {}, True),
    ('[2001:db8::1]', {'ip': False}, False),
    ('2001:db8::1', {}, False),  # IPv6 without brackets
    ('localhost', {}, True),
    ('example.org.', {}, True),
    (NAME_236, {}, True),
    (NAME_237, {}, False),  # _matrix-fed._tcp.<name> would not fit in DNS
    (NAME_237 + ':8448', {}, True),  # with a port there is no SRV lookup
    (NAME_237, {'srv': False}, True),
    (NAME_253, {'srv': False}, True),
    (NAME_254, {'srv': False}, False),
    ('a' * 64 + '.org', {}, False),
    ('-bad.example.org', {}, False),
    ('bad-.example.org', {}, False),
    ('exa..mple.org', {}, False),
    ('exa_mple.org', {}, False),
    ('https://example.org', {}, False),
    ('example.org/path', {}, False),
    ('@alice:example.org', {}, False),
    ('example.org:0', {}, False),
    ('example.org:65536', {}, False),
    ('example.org:', {}, False),
    (' example.org', {}, False),
    ('example.org\n', {}, False),
    ('', {}, False),
    (None, {}, False),
    (8448, {}, False),
    (['example.org'], {}, False),
    ({'server_name': 'example.org'}, {}, False),
]


@pytest.mark.parametrize(('value', 'kwargs', 'expected'), CASES, ids=[repr(c[0])[:40] + repr(c[1]) for c in CASES])
def test_table(value, kwargs, expected):
    assert server_name(value, **kwargs) is expected


@pytest.mark.parametrize('flag', ['port', 'ip', 'srv'])
def test_restrictions_must_be_booleans(flag):
    with pytest.raises(TypeError, match=flag):
        server_name('example.org', **{flag: 'no'})


def test_registered_under_its_name():
    assert plugin.TestModule().tests() == {'server_name': server_name}


def test_through_ansible(tmp_path):
    values = [c for c in CASES if isinstance(c[0], (str, int)) or c[0] is None]
    task_vars = {'v%d' % i: c[0] for i, c in enumerate(values)}
    expr = '[%s]' % ', '.join(
        'v%d is mxfed.federation.server_name(%s)' % (i, ', '.join('%s=%s' % (k, str(v).lower()) for k, v in c[1].items()))
        for i, c in enumerate(values))
    out = tmp_path / 'out.json'
    play = [{'hosts': 'localhost', 'gather_facts': False, 'vars': dict(task_vars, ansible_python_interpreter=sys.executable),
             'tasks': [{'ansible.builtin.copy': {'content': '{{ %s | to_json }}' % expr, 'dest': str(out), 'mode': '0600'}}]}]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps(play), encoding='utf-8')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.ansible', 'collections'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                           str(playbook)], env=env, cwd=str(tmp_path), capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(out.read_text(encoding='utf-8')) == [c[2] for c in values]
