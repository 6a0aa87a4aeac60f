# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Server name grammar (spec appendix "Server Name"): tables of good and bad names."""

from __future__ import absolute_import, division, print_function

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mxfed.federation.plugins.module_utils._dns import make_query
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


def _name(length, suffix='.test'):
    """A valid DNS name of exactly `length` characters (labels of at most 63)."""
    body = length - len(suffix)
    labels = []
    while body > 0:
        take = min(63, body) if body != 64 else 62
        labels.append('a' * take)
        body -= take + 1
    name = '.'.join(labels)[:length - len(suffix)] + suffix
    assert len(name) == length, (len(name), length)
    return name


@pytest.mark.parametrize('raw', ['example.org\n:8448', 'example.org:8448\n', 'example.org\n', 'example.org:8448\n\n',
                                 'exa\nmple.org', '1.2.3.4\n:1', 'example.org:84\n48'])
def test_newlines_are_refused(raw):
    # `$` matches before a final newline: every check must cover the whole string.
    with pytest.raises(ServerNameError):
        parse_server_name(raw)


@pytest.mark.parametrize('length, port, ok', [
    (236, None, True),    # _matrix-fed._tcp.<name> is 253 characters: DNS can still ask for it
    (237, None, False),   # its SRV name would not fit in DNS
    (237, 8448, True),    # with a port no SRV lookup is made: DNS's own limit applies
    (253, 8448, True),
    (254, 8448, False),
    (255, None, False),
])
def test_length_limit_is_what_dns_can_carry(length, port, ok):
    raw = _name(length) + ('' if port is None else ':%d' % port)
    if ok:
        assert parse_server_name(raw).host == _name(length)
        return
    with pytest.raises(ServerNameError) as info:
        parse_server_name(raw)
    assert info.value.code == 'name_too_long'
    assert '%d characters long' % length in info.value.message


def test_trailing_dot_does_not_count():
    assert parse_server_name(_name(236) + '.').host == _name(236) + '.'


@settings(derandomize=True, max_examples=500, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.text(alphabet='ab-.:[]09\n', max_size=300),
    st.from_regex(r'\A[a-z0-9.-]{1,300}(:[0-9]{1,6})?\Z'),
))
def test_never_raises_anything_but_server_name_error(raw):
    try:
        name = parse_server_name(raw)
    except ServerNameError as exc:
        assert exc.code.startswith('name_') and exc.message
        return
    # What the parser accepts, DNS can carry (and so can the SRV name when there is no port).
    if name.ip_version is None:
        bare = name.host.rstrip('.')
        assert len(bare) <= (236 if name.port is None else 253)
        assert all(0 < len(label) <= 63 for label in bare.split('.'))
        assert make_query(name.host, 'A')[0] is not None
        if name.port is None:
            assert make_query('_matrix-fed._tcp.' + name.host, 'SRV')[0] is not None
    assert '\n' not in raw
