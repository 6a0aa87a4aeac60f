# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""resolve_route() and its parts on a fake network: a table of DNS answers in, a Route out.

No well-known is served here (every connection is refused, so step 3 finds nothing and steps
4-6 follow); the delegated rows (3.x) and real servers are in test__discovery.py.
"""

from __future__ import absolute_import, division, print_function

import concurrent.futures

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._dns import DnsAnswer
from ansible_collections.mxfed.federation.plugins.module_utils._errors import ConnectRefusedError
from ansible_collections.mxfed.federation.plugins.module_utils._route import (
    Target,
    choose_srv,
    fallback_route,
    resolve_route,
    with_addresses,
)
from ansible_collections.mxfed.federation.plugins.module_utils._servername import parse_server_name


class FakeNetwork(object):
    """DNS from a table {(name, rdtype): DnsAnswer}; anything else is NXDOMAIN. Every TCP
    connection is refused."""

    ip_version = 'any'
    timeout = 1.0

    def __init__(self, answers=None, types=('A', 'AAAA')):
        self.answers = dict(answers or {})
        self.types = list(types)
        self.asked = []

    def address_types(self):
        return list(self.types)

    def lookup_many(self, questions, deadline=None):
        self.asked.extend(questions)
        return [self.answers.get((name, rdtype)) or DnsAnswer(name, rdtype, 'nxdomain') for name, rdtype in questions]

    def connect_tls(self, ip, port, sni, deadline=None):
        raise ConnectRefusedError('TCP connection to %s port %d failed: Connection refused' % (ip, port))


class InlinePool(object):
    """An executor that runs each task at once, in the caller's thread."""

    @staticmethod
    def submit(fn, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # pylint: disable=broad-except
            future.set_exception(exc)
        return future


def a(name, *ips):
    return DnsAnswer(name, 'A', 'ok', records=[{'address': ip, 'ttl': 300} for ip in ips])


def aaaa(name, *ips):
    return DnsAnswer(name, 'AAAA', 'ok', records=[{'address': ip, 'ttl': 300} for ip in ips])


def srv(name, *records, **kw):
    """records: (priority, weight, port, target)."""
    return DnsAnswer(name, 'SRV', kw.get('status', 'ok'), records=[
        {'priority': p, 'weight': w, 'port': port, 'target': target, 'ttl': 300} for p, w, port, target in records])


def failed(name, rdtype, status):
    return DnsAnswer(name, rdtype, status, error='%s from the fake' % status)


def network(*answers):
    return FakeNetwork(dict(((answer.name, answer.rdtype), answer) for answer in answers))


def codes(findings):
    return [f.code for f in findings]


def targets(route):
    return [(t.host, t.port, [ip for ip, _f in t.addresses]) for t in route.targets]


FED = '_matrix-fed._tcp.example.test'
LEGACY = '_matrix._tcp.example.test'

# server name, DNS answers, step, host header, TLS name, SNI, targets, codes
ROUTES = [
    ('192.0.2.1', [], '1', '192.0.2.1', '192.0.2.1', None, [('192.0.2.1', 8448, ['192.0.2.1'])], []),
    ('[2001:db8::1]:8449', [], '1', '[2001:db8::1]:8449', '2001:db8::1', None, [('2001:db8::1', 8449, ['2001:db8::1'])], []),
    ('example.test:8449', [a('example.test', '192.0.2.2')], '2', 'example.test:8449', 'example.test', 'example.test',
     [('example.test', 8449, ['192.0.2.2'])], []),
    ('example.test', [srv(FED, (10, 0, 8450, 'b.example.test.'), (0, 5, 8449, 'a.example.test.')),
                      a('a.example.test', '192.0.2.3'), a('b.example.test', '192.0.2.4')],
     '4', 'example.test', 'example.test', 'example.test',
     [('a.example.test', 8449, ['192.0.2.3']), ('b.example.test', 8450, ['192.0.2.4'])], ['well_known_unreachable']),
    ('example.test', [srv(LEGACY, (0, 0, 8449, 'a.example.test.')), a('a.example.test', '192.0.2.3')],
     '5', 'example.test', 'example.test', 'example.test', [('a.example.test', 8449, ['192.0.2.3'])],
     ['well_known_unreachable', 'srv_deprecated']),
    ('example.test', [srv(FED, (0, 0, 8449, 'a.example.test.')), srv(LEGACY, (0, 0, 9999, 'old.example.test.')),
                      a('a.example.test', '192.0.2.3')],
     '4', 'example.test', 'example.test', 'example.test', [('a.example.test', 8449, ['192.0.2.3'])],
     ['well_known_unreachable', 'srv_shadowed']),
    ('example.test', [a('example.test', '192.0.2.5'), aaaa('example.test', '2001:db8::5')],
     '6', 'example.test', 'example.test', 'example.test', [('example.test', 8448, ['192.0.2.5', '2001:db8::5'])],
     ['well_known_unreachable']),
    ('example.test', [srv(FED, (0, 0, 0, '.'))], '4', 'example.test', 'example.test', 'example.test', [],
     ['well_known_unreachable', 'srv_no_service']),
    ('example.test', [failed(FED, 'SRV', 'servfail')], '4', 'example.test', 'example.test', 'example.test', [],
     ['well_known_unreachable', 'dns_servfail']),
    ('example.test', [failed(LEGACY, 'SRV', 'timeout')], '5', 'example.test', 'example.test', 'example.test', [],
     ['well_known_unreachable', 'dns_timeout']),
]


@pytest.mark.parametrize('name, answers, step, host_header, tls_name, sni, expected, expected_codes', ROUTES)
def test_resolve_route(name, answers, step, host_header, tls_name, sni, expected, expected_codes):
    route = resolve_route(parse_server_name(name), network(*answers), InlinePool())
    assert (route.step, route.host_header, route.tls_name, route.sni) == (step, host_header, tls_name, sni)
    assert targets(route) == expected
    assert codes(route.findings) == expected_codes
    assert route.delegated is None


def test_ip_literal_asks_no_dns():
    net = network()
    route = resolve_route(parse_server_name('192.0.2.1'), net, InlinePool())
    assert net.asked == []
    assert route.well_known.result == 'skipped'
    assert route.srv == []
    assert route.text() == 'step 1: connect 192.0.2.1:8448 (192.0.2.1); Host 192.0.2.1, certificate for 192.0.2.1'


@pytest.mark.parametrize('answers, stop, failed_', [
    ([srv(FED, (0, 0, 0, '.'))], 'SRV _matrix-fed._tcp.example.test says "no federation service here" (target ".")', False),
    ([failed(FED, 'SRV', 'servfail')], 'the SRV lookup of _matrix-fed._tcp.example.test failed (servfail)', True),
    ([srv(FED, (0, 0, 8449, 'a.example.test.'))], None, False),
])
def test_why_resolution_stopped(answers, stop, failed_):
    route = resolve_route(parse_server_name('example.test'), network(*answers), InlinePool())
    assert (route.srv_stop, route.srv_failed) == (stop, failed_)


def test_srv_records_seen_used_and_shadowed():
    route = resolve_route(parse_server_name('example.test'), network(
        srv(FED, (0, 0, 8449, 'a.example.test.')), srv(LEGACY, (0, 0, 9999, 'old.example.test.'))), InlinePool())
    assert [(e['name'], e['status'], e['deprecated'], e['queried_for'], e['used'], e['shadowed']) for e in route.srv] == [
        (FED, 'ok', False, 'server_name', True, False),
        (LEGACY, 'ok', True, 'server_name', False, True),
    ]
    assert route.text() == ('step 4: SRV %s -> a.example.test:8449; Host example.test, certificate for example.test' % FED)


def test_fallback_route_after_srv_failure_is_the_name_on_8448():
    net = network(failed(FED, 'SRV', 'servfail'), a('example.test', '192.0.2.6'))
    route = resolve_route(parse_server_name('example.test'), net, InlinePool())
    assert route.targets == [] and route.srv_failed
    fallback = fallback_route(route, net)
    assert targets(fallback) == [('example.test', 8448, ['192.0.2.6'])]
    assert (fallback.step, fallback.host_header, fallback.tls_name, fallback.sni) == ('4', 'example.test', 'example.test',
                                                                                      'example.test')
    assert fallback.findings == []


# DNS answers for host h, SRV target or not, addresses found, codes
ADDRESSES = [
    ([a('h.test', '192.0.2.9', '192.0.2.1'), aaaa('h.test', '2001:db8::1')], False,
     [('192.0.2.1', 4), ('192.0.2.9', 4), ('2001:db8::1', 6)], []),
    ([], False, [], ['dns_nxdomain']),
    ([DnsAnswer('h.test', 'A', 'nodata'), DnsAnswer('h.test', 'AAAA', 'nodata')], False, [], ['no_address']),
    ([failed('h.test', 'A', 'servfail'), DnsAnswer('h.test', 'AAAA', 'nodata')], False, [], ['dns_servfail']),
    ([a('h.test', '192.0.2.1'), failed('h.test', 'AAAA', 'timeout')], False, [('192.0.2.1', 4)], ['dns_partial_failure']),
    ([DnsAnswer('h.test', 'A', 'ok', records=[{'address': '192.0.2.1'}], canonical_name='real.test.')], True,
     [('192.0.2.1', 4)], ['srv_target_cname']),
    ([DnsAnswer('h.test', 'A', 'ok', records=[{'address': '192.0.2.1'}], canonical_name='real.test.')], False,
     [('192.0.2.1', 4)], []),
]


@pytest.mark.parametrize('answers, srv_step, addresses, expected_codes', ADDRESSES)
def test_with_addresses(answers, srv_step, addresses, expected_codes):
    original = Target('h.test', 8448, srv='_matrix-fed._tcp.x.test', priority=0, weight=5)
    resolved, found = with_addresses(network(*answers), [original], '4', srv_step)
    assert resolved[0].addresses == addresses
    assert len(resolved[0].dns) == 2
    assert (resolved[0].host, resolved[0].port, resolved[0].srv, resolved[0].priority) == ('h.test', 8448, original.srv, 0)
    assert codes(found) == expected_codes
    assert original.addresses == []  # a new value, the input is left alone


def test_choose_srv_orders_by_priority_then_weight():
    fed = srv(FED, (10, 0, 1, 'c.test.'), (0, 1, 2, 'b.test.'), (0, 9, 3, 'a.test.'), (0, 9, 4, 'a.test.'))
    choice = choose_srv('example.test', fed, DnsAnswer(LEGACY, 'SRV', 'nxdomain'), 'server_name', ('4', '5', '6'))
    assert choice.step == '4'
    assert [(t.host, t.port, t.priority, t.weight) for t in choice.targets] == [
        ('a.test', 3, 0, 9), ('a.test', 4, 0, 9), ('b.test', 2, 0, 1), ('c.test', 1, 10, 0)]
    assert choice.findings == [] and choice.stop is None


def test_choose_srv_nxdomain_is_no_record_not_a_failure():
    choice = choose_srv('example.test', DnsAnswer(FED, 'SRV', 'nxdomain'), DnsAnswer(LEGACY, 'SRV', 'nxdomain'),
                        'delegated', ('3.3', '3.4', '3.5'))
    assert choice.step == '3.5'
    assert [(t.host, t.port) for t in choice.targets] == [('example.test', 8448)]
    assert [e['queried_for'] for e in choice.entries] == ['delegated', 'delegated']
