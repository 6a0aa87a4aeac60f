# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Server name grammar (spec appendix "Server Name"): tables of good and bad names."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    ServerNameError,
    parse_server_name,
)

GOOD = [
    # raw, host, port, ip_version, Host header form
    ('example.org', 'example.org', None, None, 'example.org'),
    ('Example.ORG', 'Example.ORG', None, None, 'Example.ORG'),
    ('matrix.example.org:8448', 'matrix.example.org', 8448, None, 'matrix.example.org:8448'),
    ('localhost:1', 'localhost', 1, None, 'localhost:1'),
    ('a-b.c-d.example:65535', 'a-b.c-d.example', 65535, None, 'a-b.c-d.example:65535'),
    ('1.2.3.4', '1.2.3.4', None, 4, '1.2.3.4'),
    ('1.2.3.4:1234', '1.2.3.4', 1234, 4, '1.2.3.4:1234'),
    ('[1234:5678::abcd]', '1234:5678::abcd', None, 6, '[1234:5678::abcd]'),
    ('[1234:5678::abcd]:5678', '1234:5678::abcd', 5678, 6, '[1234:5678::abcd]:5678'),
    ('[::1]:8448', '::1', 8448, 6, '[::1]:8448'),
    ('[::ffff:1.2.3.4]', '::ffff:102:304', None, 6, '[::ffff:102:304]'),
    ('xn--bcher-kva.example', 'xn--bcher-kva.example', None, None, 'xn--bcher-kva.example'),
]

BAD = [
    ('', 'name_empty'),
    ('   ', 'name_empty'),
    (None, 'name_empty'),
    (':8448', 'name_empty'),
    ('https://example.org', 'name_scheme'),
    ('matrix://example.org', 'name_scheme'),
    ('http://example.org:8448/', 'name_scheme'),
    ('example.org/', 'name_path'),
    ('example.org/_matrix', 'name_path'),
    ('example.org?x=1', 'name_path'),
    ('example.org#frag', 'name_path'),
    ('@alice:example.org', 'name_path'),
    ('example.org:0', 'name_port_invalid'),
    ('example.org:70000', 'name_port_invalid'),
    ('example.org:', 'name_port_invalid'),
    ('example.org:84a8', 'name_port_invalid'),
    ('example.org:123456', 'name_port_invalid'),
    ('example.org:-1', 'name_port_invalid'),
    ('[::1', 'name_ipv6_malformed'),
    ('[::1]x', 'name_ipv6_malformed'),
    ('[::g]:8448', 'name_ipv6_malformed'),
    ('[1.2.3.4]', 'name_ipv6_malformed'),
    ('::1', 'name_ipv6_malformed'),
    ('2001:db8::1:8448', 'name_ipv6_malformed'),
    ('[fe80::1%eth0]', 'name_ipv6_malformed'),
    ('::1]', 'name_ipv6_malformed'),
    ('1.2.3.256', 'name_ipv4_malformed'),
    ('exa_mple.org', 'name_invalid'),
    ('exa mple.org', 'name_invalid'),
    (' example.org', 'name_invalid'),
    ('example..org', 'name_invalid'),
    ('-example.org', 'name_invalid'),
    ('%s.org' % ('a' * 64), 'name_invalid'),
    ('b\u00fccher.example', 'name_invalid'),
]


@pytest.mark.parametrize('raw, host, port, version, header', GOOD)
def test_good_names(raw, host, port, version, header):
    name = parse_server_name(raw)
    assert (name.host, name.port, name.ip_version) == (host, port, version)
    assert name.with_port() == header
    assert name.raw == raw


@pytest.mark.parametrize('raw, code', BAD)
def test_bad_names(raw, code):
    with pytest.raises(ServerNameError) as info:
        parse_server_name(raw)
    assert info.value.code == code
    assert info.value.message
    if raw:
        assert repr(raw.strip())[1:-1] in info.value.message or raw.strip() in info.value.message or code == 'name_empty'


def test_scheme_error_suggests_the_host():
    with pytest.raises(ServerNameError) as info:
        parse_server_name('https://example.org:8448/path')
    assert info.value.suggestion == 'example.org:8448'
