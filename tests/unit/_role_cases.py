# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run role entry points on localhost in check mode, one block per case, in ONE ansible-playbook
run, and return what each case ended with: "PASSED" or the failure's message."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_role_cases(tmp, cases):
    """cases: [(case_id, role, tasks_from or None, vars)]. Returns {case_id: "PASSED" or message}."""
    out = str(tmp / 'results.json')
    tasks = []
    for case_id, role, entry, case_vars in cases:
        include = {'name': 'mxfed.federation.' + role}
        if entry:
            include['tasks_from'] = entry
        tasks.append({'name': 'Case %s' % case_id, 'block': [
            {'name': 'Include (%s)' % case_id, 'ansible.builtin.include_role': include, 'vars': case_vars},
            {'name': 'Passed', 'ansible.builtin.set_fact': {
                'results': '{{ results | combine({%s: "PASSED"}) }}' % json.dumps(case_id)}},
        ], 'rescue': [{'name': 'Record', 'ansible.builtin.set_fact': {
            'results': '{{ results | combine({%s: ansible_failed_result.msg | default("") | string}) }}'
                       % json.dumps(case_id)}}]})
    tasks.append({'name': 'Write', 'ansible.builtin.copy': {'content': '{{ results | to_json }}', 'dest': out,
                                                            'mode': '0600'}, 'check_mode': False})
    play = [{'name': 'Cases', 'hosts': 'localhost', 'gather_facts': False, 'vars': {'results': {}}, 'tasks': tasks}]
    (tmp / 'play.yml').write_text(json.dumps(play), encoding='utf-8')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.ansible', 'collections'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '--check', '-i', 'localhost,',
                           '-c', 'local', '-e', 'ansible_python_interpreter=' + sys.executable, str(tmp / 'play.yml')],
                          cwd=str(tmp), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert os.path.exists(out), proc.stdout[-3000:]
    with open(out, encoding='utf-8') as fh:
        return json.load(fh)
