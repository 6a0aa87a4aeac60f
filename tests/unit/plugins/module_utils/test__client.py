# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""check_client() when the client well-known cannot be fetched; served answers (CORS,
base_url, versions) are in test__discovery.py."""

from __future__ import absolute_import, division, print_function

from ansible_collections.mxfed.federation.plugins.module_utils._client import check_client
from ansible_collections.mxfed.federation.plugins.module_utils._dns import DnsAnswer
from ansible_collections.mxfed.federation.plugins.module_utils._errors import ConnectRefusedError
from ansible_collections.mxfed.federation.plugins.module_utils._servername import parse_server_name


class Network(object):
    def __init__(self, addresses):
        self.addresses = addresses

    @staticmethod
    def address_types():
        return ['A']

    def lookup_many(self, questions, deadline=None):
        return [DnsAnswer(name, rdtype, 'ok' if self.addresses else 'nxdomain',
                          records=[{'address': ip} for ip in self.addresses]) for name, rdtype in questions]

    @staticmethod
    def connect_tls(ip, port, sni, deadline=None):
        raise ConnectRefusedError('TCP connection to %s port %d failed: Connection refused' % (ip, port))


def test_no_address():
    record, found = check_client(Network([]), parse_server_name('example.test'))
    assert record['url'] == 'https://example.test/.well-known/matrix/client'
    assert record['error'] == 'no address for example.test (A nxdomain)'
    assert [(f.code, f.level, f.message) for f in found] == [(
        'client_well_known_missing', 'warning',
        'Clients cannot fetch https://example.test/.well-known/matrix/client: no address for example.test (A nxdomain).')]
    assert 'https://example.test/.well-known/matrix/client' in found[0].fix


def test_refused():
    record, found = check_client(Network(['192.0.2.1']), parse_server_name('example.test:8448'))
    assert record['url'] == 'https://example.test/.well-known/matrix/client'
    assert record['error'] == 'TCP connection to 192.0.2.1 port 443 failed: Connection refused'
    assert [f.code for f in found] == ['client_well_known_missing']
