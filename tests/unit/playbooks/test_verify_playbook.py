# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/verify.yml as a person runs it: several names, the report printed once per name,
a non-zero exit status when one fails, the structured results on request.

The names need no DNS and no listener: an IP literal on a closed loopback port fails at once.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def run_verify(tmp_path, *extra):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return subprocess.run([playbook, os.path.join(ROOT, 'playbooks', 'verify.yml'), '-e', 'timeout=1'] + list(extra),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_several_names_one_report_each_and_exit_status(tmp_path):
    report = tmp_path / 'report.json'
    proc = run_verify(tmp_path, '-e', '{"server_names": "127.0.0.1:9, bad_name,,127.0.0.1:9"}',
                      '-e', 'report_file=%s' % report, '-e', '{"checks": ["keys"]}', '-e', 'implementations=synapse')
    out = proc.stdout
    assert proc.returncode == 2, out + proc.stderr
    # Once per distinct name, not repeated by the failing task or dumped as JSON.
    assert out.count('Federation check for 127.0.0.1:9: FAILED') == 1, out
    assert out.count("The server name 'bad_name' contains characters") == 1, out
    assert 'Federation check failed for 127.0.0.1:9, bad_name (the report above says why).' in out
    assert '"reachable_from"' not in out  # no result dump
    # Dendrite's and Conduit's verdicts are warnings here: in the report, not repeated as Ansible warnings.
    assert 'Reached by: synapse NO, dendrite NO (not enforced), conduit NO (modelled, not enforced)' in out, out
    assert '- warning peer_unreachable_other' in out
    assert '[WARNING]: peer_unreachable_other' not in out + proc.stderr
    results = json.loads(report.read_text())
    assert [r['server_name'] for r in results] == ['127.0.0.1:9', 'bad_name']
    assert results[0]['reachable_from'] == {'synapse': False, 'dendrite': False, 'conduit': False}


def test_no_name_is_a_clear_error(tmp_path):
    proc = run_verify(tmp_path)
    assert proc.returncode == 2
    assert 'Give the server name(s) to check' in proc.stdout
