# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The module wrapper: argument spec, bad input, failed/msg, result shape.

Bad input runs the module as a subprocess with JSON args (exactly how Ansible runs it); the
checks against loopback servers run main() in-process so the lab's port map can be injected.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.mxfed.federation.plugins.modules import delegation_check

COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(delegation_check.__file__), '..', '..', '..', '..'))


def run_subprocess(args, tmp_path):
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([COLLECTIONS_ROOT] + sys.path)
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.mxfed.federation.plugins.modules.delegation_check',
                           str(args_file)], capture_output=True, text=True, env=env, timeout=60, check=False)
    return json.loads(proc.stdout)


BAD_INPUT = [
    ('', 'name_empty', 'empty'),
    ('https://example.org', 'name_scheme', 'scheme'),
    ('example.org/path', 'name_path', 'path'),
    ('example.org:0', 'name_port_invalid', '1 to 65535'),
    ('example.org:70000', 'name_port_invalid', '1 to 65535'),
    ('[2001:db8::zz]:8448', 'name_ipv6_malformed', 'IPv6'),
    ('2001:db8::1', 'name_ipv6_malformed', 'brackets'),
]


def _assert_input_error(out, server_name, code, words):
    assert out['failed'] is True
    assert out['msg'].startswith('Invalid server_name %r' % server_name)
    assert words in out['msg']
    assert out['errors'][0]['code'] == code
    assert out['federation_ok'] is False


@pytest.mark.parametrize('server_name, code, words', BAD_INPUT[:2])
def test_bad_input_fails_clearly_as_subprocess(tmp_path, server_name, code, words):
    # An unroutable nameserver: any DNS traffic would show up as a timeout, not as this error.
    out = run_subprocess({'server_name': server_name, 'nameservers': ['192.0.2.1'], 'timeout': 30}, tmp_path)
    _assert_input_error(out, server_name, code, words)


@pytest.mark.parametrize('server_name, code, words', BAD_INPUT)
def test_bad_input_fails_clearly_without_traffic(lab, monkeypatch, capsys, server_name, code, words):
    out = _run_main({'server_name': server_name}, lab, monkeypatch, capsys)
    _assert_input_error(out, server_name, code, words)
    assert lab.dns.queries == [] and lab.connects == []


def test_argument_spec_rejects_bad_choices(tmp_path):
    out = run_subprocess({'server_name': 'example.org', 'ip_version': '5', 'checks': ['keys', 'nope']}, tmp_path)
    assert out['failed'] is True
    assert 'ip_version' in out['msg'] or 'checks' in out['msg']


def test_missing_server_name(tmp_path):
    out = run_subprocess({}, tmp_path)
    assert out['failed'] is True and 'server_name' in out['msg']


def test_bad_nameserver(tmp_path):
    out = run_subprocess({'server_name': 'example.org', 'nameservers': ['not-an-ip']}, tmp_path)
    assert out['failed'] is True and 'nameservers' in out['msg']


def _run_main(args, lab, monkeypatch, capsys):
    def make_network(params):
        return lab.network(timeout=params['timeout'], ip_version=params['ip_version'],
                           ca_path=params['ca_path'] or lab.pki.root_pem)

    monkeypatch.setattr(delegation_check, 'make_network', make_network)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            delegation_check.main()
    return json.loads(capsys.readouterr().out)


def _healthy(lab, port=8448):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.3')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test:%d' % port,
                   client_base_url='https://matrix.example.test')
    hs = lab.homeserver('example.test', '127.0.0.3', port=port, cert_names=['matrix.example.test'])
    if port != 443:
        lab.https('127.0.0.3', 443, ['matrix.example.test'], app=hs.app)
    return hs


def test_healthy_server_passes(lab, monkeypatch, capsys):
    _healthy(lab)
    out = _run_main({'server_name': 'example.test', '_ansible_check_mode': True}, lab, monkeypatch, capsys)
    assert out.get('failed') is not True, out.get('msg')
    assert out['changed'] is False
    assert out['federation_ok'] is True
    assert out['step'] == '3.2'
    assert out['warning_findings'] == [] and out['errors'] == []
    assert out['addresses'][0]['keys']['signatures_valid'] is True
    assert out['summary'].startswith('Federation check for example.test: OK')


def test_warning_fails_only_with_fail_on_warning(lab, monkeypatch, capsys):
    _healthy(lab, port=443)
    out = _run_main({'server_name': 'example.test', 'checks': ['keys']}, lab, monkeypatch, capsys)
    assert out.get('failed') is not True
    assert [w['code'] for w in out['warning_findings']] == ['federation_port_443']
    assert 'federation_port_443' in json.dumps(out.get('warnings'))  # also shown as Ansible warnings
    out = _run_main({'server_name': 'example.test', 'checks': ['keys'], 'fail_on_warning': True}, lab, monkeypatch, capsys)
    assert out['failed'] is True
    assert 'fail_on_warning' in out['msg'] and out['federation_ok'] is True


def test_broken_server_fails_with_the_cause(lab, monkeypatch, capsys):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    lab.https('127.0.0.2', 8448, ['other.test'], app=delegation_check_app())
    out = _run_main({'server_name': 'example.test', 'checks': ['keys']}, lab, monkeypatch, capsys)
    assert out['failed'] is True
    assert 'Other servers cannot federate with example.test' in out['msg']
    assert 'tls_name_mismatch' in out['msg']
    assert out['errors'][0]['fix']


def delegation_check_app():
    from _lab import App
    return App(server_name='example.test')


def test_every_finding_code_is_documented_under_its_level():
    import yaml
    from ansible_collections.mxfed.federation.plugins.module_utils._report import CODES
    doc = yaml.safe_load(delegation_check.RETURN)
    listed = {
        'error': doc['errors']['description'][-1],
        'warning': doc['warning_findings']['description'][-1],
        'info': doc['notes']['description'][-1],
    }
    documented = {}
    for level, text in listed.items():
        for code in text.split(':', 1)[1].rstrip('.').split(','):
            documented[code.strip()] = level
    assert documented == dict((code, spec[0]) for code, spec in CODES.items())


@pytest.mark.parametrize('timeout', [1e10, 'inf', '-inf', 'nan', 0, -1, 0.01, 301])
def test_timeout_out_of_range_is_refused(tmp_path, timeout):
    out = run_subprocess({'server_name': 'example.org', 'nameservers': ['192.0.2.1'], 'timeout': timeout}, tmp_path)
    assert out['failed'] is True
    assert out['msg'].startswith('timeout must be a positive number of seconds per network step, from 0.1 to 300'), out['msg']
    assert 'Traceback' not in json.dumps(out)


def test_ca_path_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / 'ca.fifo'
    os.mkfifo(str(fifo))
    out = run_subprocess({'server_name': 'example.org', 'nameservers': ['192.0.2.1'], 'ca_path': str(fifo)}, tmp_path)
    assert out['failed'] is True
    assert 'Cannot load ca_path %s: %s is neither a regular file nor a directory' % (fifo, fifo) in out['msg'], out['msg']


@pytest.mark.parametrize('content, words', [
    (None, 'No such file'),
    (b'not a certificate\n', 'contains no PEM certificate'),
    (b'x' * (9 * 1024 * 1024), 'larger than'),
])
def test_ca_path_unusable_is_refused(tmp_path, content, words):
    path = tmp_path / 'ca.pem'
    if content is not None:
        path.write_bytes(content)
    out = run_subprocess({'server_name': 'example.org', 'nameservers': ['192.0.2.1'], 'ca_path': str(path)}, tmp_path)
    assert out['failed'] is True
    assert out['msg'].startswith('Cannot load ca_path') and words in out['msg'], out['msg']


def test_ca_path_directory_of_pem_files_is_trusted(lab, monkeypatch, capsys, tmp_path):
    # No c_rehash names: OpenSSL's capath would not find the root; we read the files ourselves.
    cadir = tmp_path / 'cas'
    cadir.mkdir()
    (cadir / 'README').write_text('the lab root\n')
    with open(lab.pki.root_pem, 'rb') as handle:
        (cadir / 'lab-root.pem').write_bytes(handle.read())
    _healthy(lab)
    out = _run_main({'server_name': 'example.test', 'ca_path': str(cadir), 'checks': ['keys']}, lab, monkeypatch, capsys)
    assert out.get('failed') is not True, out.get('msg')
    assert out['federation_ok'] is True


# ------------------------------------------------------------------ server_names
def test_server_names_checks_each_once_in_order_with_the_aggregate(lab, monkeypatch, capsys):
    _healthy(lab)
    out = _run_main({'server_names': ['example.test', 'bad name', 'example.test', '127.0.0.9:8448'], 'checks': ['keys'],
                     'timeout': 1}, lab, monkeypatch, capsys)
    assert [r['server_name'] for r in out['results']] == ['example.test', 'bad name', '127.0.0.9:8448']
    assert [r['federation_ok'] for r in out['results']] == [True, False, False]
    assert out['results'][1]['errors'][0]['code'] == 'name_invalid'
    assert out['federation_ok'] is False and out['failed'] is True
    assert out['failed_names'] == ['bad name', '127.0.0.9:8448']
    assert out['msg'].startswith('Federation check failed for bad name, 127.0.0.9:8448: ')
    assert out['summary'].endswith('Failed: bad name, 127.0.0.9:8448 (2 of 3 names).')
    assert 'Federation check for example.test: OK' in out['summary']
    assert all('warning_findings' in r and 'warnings' not in r for r in out['results'])
    # The malformed name caused no traffic: nothing was asked about it.
    assert not [q for q in lab.dns.queries if 'bad' in q[0]]


def test_server_names_all_passing_and_warnings_named_per_server(lab, monkeypatch, capsys):
    _healthy(lab, port=443)
    out = _run_main({'server_names': ['example.test'], 'checks': ['keys']}, lab, monkeypatch, capsys)
    assert out.get('failed') is not True, out.get('msg')
    assert out['federation_ok'] is True and out['failed_names'] == []
    assert out['summary'].endswith('All 1 names passed.')
    assert 'example.test: federation_port_443' in json.dumps(out.get('warnings'))
    out = _run_main({'server_names': ['example.test'], 'checks': ['keys'], 'fail_on_warning': True}, lab, monkeypatch, capsys)
    assert out['failed'] is True and out['failed_names'] == ['example.test'] and out['federation_ok'] is True


@pytest.mark.parametrize('args, words', [
    ({'server_name': 'example.org', 'server_names': ['example.net']}, 'mutually exclusive'),
    ({'server_names': []}, 'server_names is empty'),
])
def test_server_names_bad_input(tmp_path, args, words):
    args = dict(args, nameservers=['192.0.2.1'])
    out = run_subprocess(args, tmp_path)
    assert out['failed'] is True and words in out['msg'], out['msg']
