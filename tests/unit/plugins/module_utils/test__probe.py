# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""probe_address() when the connection fails: a table of transport errors and what the result
and findings say. TLS, keys, version and proxy answers from real servers are in
test__discovery.py."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    ConnectUnreachableError,
    RequestTimeoutError,
    TlsError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._probe import probe_address


class FailingNetwork(object):
    def __init__(self, exc):
        self.exc = exc
        self.calls = []

    def connect_tls(self, ip, port, sni, deadline=None):
        self.calls.append((ip, port, sni))
        raise self.exc


class Route(object):
    """The parts of a _route.Route that probe_address reads."""

    host_header = 'matrix.example.test'
    tls_name = 'matrix.example.test'
    sni = 'matrix.example.test'


class Target(object):
    def __init__(self, host, port):
        self.host = host
        self.port = port


ROUTE = Route()

# error raised by the connect, result['tcp'], result.get('hung'), code
FAILURES = [
    (ConnectRefusedError('refused'), 'refused', None, 'tcp_connect_failed'),
    (ConnectUnreachableError('no route'), 'unreachable', None, 'tcp_connect_failed'),
    (ConnectTimeoutError('connect timed out'), 'timeout', None, 'tcp_connect_failed'),
    (RequestTimeoutError('no TLS answer'), 'ok', True, 'tls_handshake_failed'),
    (TlsError('handshake failure'), 'ok', False, 'tls_handshake_failed'),
]


@pytest.mark.parametrize('exc, tcp, hung, code', FAILURES)
def test_connect_failures(exc, tcp, hung, code):
    net = FailingNetwork(exc)
    target = Target('hs.example.test', 8449)
    result, found = probe_address(net, ROUTE, 'example.test', ('keys',), target, '192.0.2.1', 4)
    assert net.calls == [('192.0.2.1', 8449, 'matrix.example.test')]
    assert (result['tcp'], result.get('hung'), result['ok'], result['error']) == (tcp, hung, False, exc.message)
    assert (result['host'], result['port'], result['sni'], result['host_header']) == (
        'hs.example.test', 8449, 'matrix.example.test', 'matrix.example.test')
    assert [(f.code, f.message, f.address) for f in found] == [(code, exc.message, '192.0.2.1:8449')]
    assert '192.0.2.1' in found[0].fix


def test_ipv6_address_is_bracketed():
    target = Target('hs.example.test', 8448)
    _result, found = probe_address(FailingNetwork(ConnectRefusedError('refused')), ROUTE, 'example.test', (), target,
                                   '2001:db8::1', 6)
    assert found[0].address == '[2001:db8::1]:8448'
