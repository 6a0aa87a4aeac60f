# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""read_ca_path: what ca_path may be (a PEM file or a directory of them), read with a size cap."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._tls import CaPathError, make_context, read_ca_path


@pytest.fixture
def root_pem(pki):
    with open(pki.root_pem, 'rb') as handle:
        return handle.read()


def test_file(tmp_path, root_pem):
    path = tmp_path / 'ca.pem'
    path.write_bytes(b'# comment\n' + root_pem)
    assert read_ca_path(str(path)).count('BEGIN CERTIFICATE') == 1


def test_directory_without_hashed_names(tmp_path, root_pem):
    (tmp_path / 'a.pem').write_bytes(root_pem)
    (tmp_path / 'b.crt').write_bytes(root_pem)  # the same root twice: loaded once
    (tmp_path / 'README').write_text('not a certificate')
    os.mkfifo(str(tmp_path / 'pipe'))  # skipped, never opened
    (tmp_path / 'sub').mkdir()
    assert read_ca_path(str(tmp_path)).count('BEGIN CERTIFICATE') == 1
    ctx = make_context(verify=True, ca_path=str(tmp_path))
    assert any(c['subject'] == ((('commonName', 'mxfed test root'),),) for c in ctx.get_ca_certs())


@pytest.mark.parametrize('setup, words', [
    (lambda p: os.mkfifo(str(p)), 'neither a regular file nor a directory'),
    (lambda p: None, 'No such file'),
    (lambda p: p.write_text('hello'), 'no PEM certificate'),
    (lambda p: p.mkdir(), 'no PEM certificate'),
    (lambda p: p.write_bytes(b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), 'cannot load'),
    (lambda p: p.write_bytes(b'-' * 2048), 'larger than 1024 bytes'),
])
def test_refused(tmp_path, setup, words):
    path = tmp_path / 'ca'
    setup(path)
    with pytest.raises(CaPathError) as info:
        read_ca_path(str(path), max_bytes=1024)
    assert words in info.value.message and str(path) in info.value.message


def test_directory_total_is_capped(tmp_path, root_pem):
    for index in range(5):
        (tmp_path / ('%d.pem' % index)).write_bytes(root_pem)
    with pytest.raises(CaPathError) as info:
        read_ca_path(str(tmp_path), max_bytes=len(root_pem) * 3)
    assert 'larger than' in info.value.message


@pytest.mark.skipif(not os.path.isdir('/etc/ssl/certs'), reason='no system CA directory')
def test_system_ca_directory():
    assert read_ca_path('/etc/ssl/certs').count('BEGIN CERTIFICATE') > 10


def test_trickled_handshake_ends_by_the_deadline():
    """A server that answers the ClientHello one byte every 0.1 s (each read within OpenSSL's
    per-read timeout) used to stretch one handshake without limit; it ends by the timeout now."""
    import time

    from ansible_collections.mxfed.federation.plugins.module_utils._errors import TlsTimeoutError
    from ansible_collections.mxfed.federation.plugins.module_utils._tls import Dialer

    from _hostile import TcpServer, stream_forever

    def trickle(conn, stop):
        conn.recv(4096)
        conn.sendall(b'\x16\x03\x03\x40\x00')  # a 16 KiB handshake record, then its body, slowly
        stream_forever(conn, stop, b'\x02', pause=0.1)

    server = TcpServer(trickle)
    try:
        dialer = Dialer(timeout=0.8)
        start = time.monotonic()
        with pytest.raises(TlsTimeoutError):
            dialer.connect_tls(server.ip, server.port, 'hostile.test')
        assert time.monotonic() - start < 0.8 + 0.5
        start = time.monotonic()
        with pytest.raises(TlsTimeoutError):
            dialer.connect_tls(server.ip, server.port, 'hostile.test', deadline=time.monotonic() + 0.3)
        assert time.monotonic() - start < 0.3 + 0.5
    finally:
        server.close()
