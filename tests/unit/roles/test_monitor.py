# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitor role's program and alert rules, without a host: the program runs against the
loopback lab as the timer would run it, and every metric the rules use is one it writes."""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import subprocess
import sys

import yaml
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.mxfed.federation.plugins.module_utils._metrics import FAMILIES, PREFIX

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, 'roles', 'monitor')
PROGRAM = os.path.join(ROLE, 'files', 'mxfed-federation-metrics')


def install(tmp_path):
    """Lay the program out as the role does: bin/ and lib/ansible_collections/.../module_utils."""
    bin_dir = tmp_path / 'opt' / 'bin'
    lib = tmp_path / 'opt' / 'lib' / 'ansible_collections' / 'mxfed' / 'federation' / 'plugins'
    program = bin_dir / 'mxfed-federation-metrics'
    if not program.exists():
        bin_dir.mkdir(parents=True)
        lib.mkdir(parents=True)
        os.symlink(os.path.join(ROOT, 'plugins', 'module_utils'), str(lib / 'module_utils'))
        with open(PROGRAM, 'rb') as handle:
            program.write_bytes(handle.read())
    return program


def run(tmp_path, config):
    program = install(tmp_path)
    out_dir = tmp_path / 'textfile'
    out_dir.mkdir(exist_ok=True)
    config = dict(config, textfile_dir=str(out_dir))
    (tmp_path / 'config.json').write_text(json.dumps(config))
    # A clean environment: only the program's own lib on the path, as on the host.
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': ''}
    proc = subprocess.run([sys.executable, str(program), str(tmp_path / 'config.json')], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    text = (out_dir / 'mxfed_federation.prom').read_text()
    metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            metrics.setdefault(sample.name, []).append((sample.labels, sample.value))
    return proc, metrics, sorted(os.listdir(str(out_dir)))


def test_program_writes_the_verdict_for_a_healthy_and_a_broken_server(lab, tmp_path):
    # The lab's DNS server answers on a high port: the program reaches it through a port map only
    # the in-process Network has, so use an IP literal server name on a real listener here.
    lab.https('127.0.0.2', 8448, ['127.0.0.2'], app=__import__('_lab').App(server_name='127.0.0.2:8448'))
    real_port = lab.port_map[('127.0.0.2', 8448)][1]
    name = '127.0.0.2:%d' % real_port
    lab.servers[-1].app.server_name = name
    proc, metrics, files = run(tmp_path, {'server_name': name, 'ca_path': lab.pki.root_pem, 'timeout': 2})
    assert proc.returncode == 0, proc.stderr
    assert files == ['mxfed_federation.prom']  # the temporary file was renamed, not left behind
    assert metrics['mxfed_federation_ok'] == [({'server_name': name}, 1.0)]
    assert metrics['mxfed_federation_check_success'] == [({}, 1.0)]
    assert metrics['mxfed_federation_certificate_expiry_seconds'][0][1] > 80 * 86400
    lab.close()
    proc, metrics, _files = run(tmp_path, {'server_name': name, 'ca_path': lab.pki.root_pem, 'timeout': 1})
    assert proc.returncode == 0, proc.stderr
    assert metrics['mxfed_federation_ok'] == [({'server_name': name}, 0.0)]


def test_program_that_cannot_run_says_so_in_the_file(tmp_path):
    proc, metrics, _files = run(tmp_path, {'server_name': 'example.org', 'rooms': ['!r:example.org'],
                                           'homeserver_url': 'https://matrix.example.org',
                                           'token_file': str(tmp_path / 'missing-token'), 'nameservers': ['127.0.0.1'],
                                           'timeout': 0.5})
    assert proc.returncode == 1
    (labels, value), = metrics['mxfed_federation_check_success']
    assert value == 0.0 and 'missing-token' in labels['error']
    assert 'Traceback' not in proc.stderr


def test_every_metric_the_alert_rules_use_is_written():
    with open(os.path.join(ROLE, 'files', 'mxfed-federation.rules.yml')) as handle:
        rules = yaml.safe_load(handle)
    written = set(PREFIX + name for name, _kind, _help in FAMILIES)
    used = set()
    for group in rules['groups']:
        for rule in group['rules']:
            assert rule['alert'] and rule['annotations']['summary']
            used.update(re.findall(r'\bmxfed_federation_[a-z_]+', rule['expr']))
    assert used and used <= written, used - written
