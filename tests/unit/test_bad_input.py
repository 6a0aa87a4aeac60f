# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Bad input to every role and to the delegation_check module is refused with a message that
names the input at fault.

The cases live in tests/bad_input/cases.yml. All of them run for real, in ONE ansible-playbook
run on localhost (connection local, --check): each case is a block that includes the role entry
point (or calls the module) with the bad input, followed by a task that must not be reached; the
rescue records the failed task and its message. Validation must fail before any task touches the
host, and --check guarantees nothing is changed even if a case were wrongly accepted.

docs/bad-input.md is generated from the run; the test fails when it is out of date.
Regenerate it with MXFED_UPDATE_DOCS=1.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CASES_FILE = os.path.join(REPO, 'tests', 'bad_input', 'cases.yml')
DOC_FILE = os.path.join(REPO, 'docs', 'bad-input.md')
NOT_REACHED = 'MXFED_BAD_INPUT_NOT_REACHED'

with open(CASES_FILE, encoding='utf-8') as _fh:
    CASES = yaml.safe_load(_fh)['cases']


def _case_tasks(case):
    if 'module' in case:
        call = {'name': 'Call the module with %s' % case['id'],
                'mxfed.federation.delegation_check': case['module']}
    else:
        include = {'name': 'mxfed.federation.%s' % case['role']}
        if case.get('entry', 'main') != 'main':
            include['tasks_from'] = case['entry']
        call = {'name': 'Include the role with %s' % case['id'],
                'ansible.builtin.include_role': include,
                'vars': case.get('vars') or {}}
    return {
        'name': 'Case %s' % case['id'],
        'block': [
            call,
            {'name': 'Not reached (%s)' % case['id'],
             'ansible.builtin.fail': {'msg': '%s %s' % (NOT_REACHED, case['id'])}},
        ],
        'rescue': [
            {'name': 'Record %s' % case['id'],
             'ansible.builtin.set_fact': {
                 '__bad_input_results': '{{ __bad_input_results | combine({%s: {"task": ansible_failed_task.name, '
                                        '"msg": ansible_failed_result.msg | default("") | string}}) }}'
                                        % json.dumps(case['id'])}},
        ],
    }


def _playbook(out_file):
    return [{
        'name': 'Bad input',
        'hosts': 'localhost',
        'connection': 'local',
        'gather_facts': True,
        'gather_subset': ['min'],
        'vars': {'__bad_input_results': {}, 'ansible_python_interpreter': sys.executable},
        'tasks': [_case_tasks(c) for c in CASES] + [{
            'name': 'Write the results',
            'ansible.builtin.copy': {'content': '{{ __bad_input_results | to_nice_json }}', 'dest': out_file,
                                     'mode': '0600'},
            'check_mode': False,
        }],
    }]


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('bad_input')
    out_file = str(tmp / 'results.json')
    playbook = tmp / 'bad_input.yml'
    playbook.write_text(json.dumps(_playbook(out_file), indent=1), encoding='utf-8')
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(REPO, '.ansible', 'collections'),
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_NOCOLOR': '1',
    })
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    start = time.time()
    proc = subprocess.run([binary, '--check', '-i', 'localhost,', str(playbook)], cwd=str(tmp), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    elapsed = time.time() - start
    assert os.path.exists(out_file), 'ansible-playbook did not finish (rc %s):\n%s' % (proc.returncode, proc.stdout[-5000:])
    with open(out_file, encoding='utf-8') as fh:
        results = json.load(fh)
    return {'results': results, 'elapsed': elapsed, 'output': proc.stdout}


def test_cases_are_well_formed():
    ids = [c['id'] for c in CASES]
    assert len(ids) == len(set(ids)), 'duplicate ids'
    assert len(CASES) >= 30
    roles = {c['role'] for c in CASES if 'role' in c}
    assert roles >= {'caddy', 'well_known', 'firewall', 'synapse', 'dendrite', 'conduit', 'homeserver'}
    assert any('module' in c for c in CASES)
    for case in CASES:
        assert ('role' in case) != ('module' in case), case['id']
        assert case['expect'] and case['variable'], case['id']
        # the message must name the input at fault
        names = [v.strip() for v in case['variable'].split(',')]
        assert case.get('vague') or any(n in case['expect'][0] for n in names), case['id']


@pytest.mark.parametrize('case', CASES, ids=[c['id'] for c in CASES])
def test_bad_input_refused(run, case):
    result = run['results'].get(case['id'])
    assert result is not None, 'case %s was not recorded' % case['id']
    assert NOT_REACHED not in result['msg'], 'bad input accepted: %s' % case['id']
    assert not result['task'].startswith('Not reached'), 'bad input accepted: %s' % case['id']
    for fragment in case['expect']:
        assert fragment in result['msg'], '%s: %r not in %r (task %r)' % (case['id'], fragment, result['msg'], result['task'])


def _role_variables(role):
    """Every option of every entry point in the role's meta/argument_specs.yml."""
    with open(os.path.join(REPO, 'roles', role, 'meta', 'argument_specs.yml'), encoding='utf-8') as fh:
        specs = yaml.safe_load(fh)['argument_specs']
    return {name for entry in specs.values() for name in (entry.get('options') or {})}


@pytest.mark.parametrize('case', [c for c in CASES if 'role' in c], ids=[c['id'] for c in CASES if 'role' in c])
def test_message_names_only_the_inputs_at_fault(run, case):
    # A message that lists every input of the role leaves the user to find the wrong one. Other
    # inputs may appear only when the case declares them as context (`context`).
    result = run['results'].get(case['id'])
    assert result is not None, 'case %s was not recorded' % case['id']
    at_fault = {v.strip() for v in case['variable'].split(',')}
    allowed = at_fault | set(case.get('context', []))
    pattern = r'(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])'
    named = {v for v in _role_variables(case['role']) if re.search(pattern % v, result['msg'])}
    assert named - allowed == set(), '%s: the message also names %s: %r' % (
        case['id'], sorted(named - allowed), result['msg'])


def _cell(text):
    return str(text).strip().replace('|', '\\|').replace('\n', '<br>')


def _input(case):
    data = case['module'] if 'module' in case else (case.get('vars') or {})
    return '`%s`' % json.dumps(data, sort_keys=True) if data else '(nothing)'


def render_doc(results):
    lines = [
        '# Bad input and the messages users see',
        '',
        'Generated by `tests/unit/test_bad_input.py` from a real run of every case in',
        '`tests/bad_input/cases.yml` (one `ansible-playbook --check` on localhost; each case must fail',
        'before any task touches the host, with a message naming the input at fault).',
        'Regenerate with `MXFED_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/unit/test_bad_input.py`.',
        '',
        '%d cases.' % len(CASES),
        '',
        '| # | role / module | variable | input | message the user sees |',
        '|---|---|---|---|---|',
    ]
    for number, case in enumerate(CASES, 1):
        if 'module' in case:
            where = '`mxfed.federation.delegation_check`'
        else:
            entry = '' if case.get('entry', 'main') == 'main' else ' (`%s`)' % case['entry']
            where = '`mxfed.federation.%s`%s' % (case['role'], entry)
        msg = results.get(case['id'], {}).get('msg', '(not recorded)')
        if case.get('vague'):
            msg += '\n(vague: %s)' % case['vague']
        lines.append('| %d | %s | `%s` | %s | %s |' % (number, where, _cell(case['variable']), _cell(_input(case)),
                                                       _cell(msg)))
    return '\n'.join(lines) + '\n'


def test_doc_in_sync(run):
    text = render_doc(run['results'])
    if os.environ.get('MXFED_UPDATE_DOCS') == '1':
        with open(DOC_FILE, 'w', encoding='utf-8') as fh:
            fh.write(text)
    assert os.path.exists(DOC_FILE), 'run with MXFED_UPDATE_DOCS=1 to create %s' % DOC_FILE
    with open(DOC_FILE, encoding='utf-8') as fh:
        assert fh.read() == text, 'docs/bad-input.md is out of date: run with MXFED_UPDATE_DOCS=1'
