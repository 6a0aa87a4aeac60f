# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The URL helpers of _fetch; fetching over real HTTPS (redirects, loops, TLS) is in
test__discovery.py."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._errors import DnsError
from ansible_collections.mxfed.federation.plugins.module_utils._fetch import (
    get_once,
    host_header_for,
    redirect_location,
    url_addresses,
)


@pytest.mark.parametrize('host, port, default, expected', [
    ('example.test', 443, 443, 'example.test'),
    ('example.test', 8443, 443, 'example.test:8443'),
    ('192.0.2.1', 443, 443, '192.0.2.1'),
    ('2001:db8::1', 443, 443, '[2001:db8::1]'),
    ('2001:db8::1', 8448, 443, '[2001:db8::1]:8448'),
])
def test_host_header_for(host, port, default, expected):
    assert host_header_for(host, port, default) == expected


class Redirect(object):
    def __init__(self, location):
        self.location = location

    def header(self, name, default=None):
        return self.location if name == 'Location' else default


@pytest.mark.parametrize('location, expected', [
    ('https://other.test/x', 'https://other.test/x'),
    ('/elsewhere', 'https://example.test/elsewhere'),
    ('server2', 'https://example.test/.well-known/matrix/server2'),
    ('http://example.test/x', 'http://example.test/x'),
    (None, None),
    ('', None),
])
def test_redirect_location(location, expected):
    assert redirect_location(Redirect(location), 'https://example.test/.well-known/matrix/server') == expected


class NoDns(object):
    @staticmethod
    def address_types():
        return ['A', 'AAAA']

    @staticmethod
    def lookup_many(questions, deadline=None):
        raise AssertionError('no DNS for an IP literal: %r' % (questions,))


def test_ip_literal_is_its_own_address():
    assert url_addresses(NoDns(), '192.0.2.1') == (['192.0.2.1'], [])
    assert url_addresses(NoDns(), '2001:db8::1') == (['2001:db8::1'], [])


def test_no_address_is_a_dns_error():
    with pytest.raises(DnsError) as info:
        get_once(NoDns(), 'https://example.test/x', 1024, ips=[])
    assert info.value.message == 'no address for example.test'
