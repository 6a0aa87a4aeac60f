# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The per-implementation walk over what the check observed: a table of routes and verdicts.

The end-to-end classes (a real well-known, real SRV records, real listeners) are in
test__discovery.py; these rows pin down each implementation's rules one at a time.
"""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._verdict import (
    CONNECTED,
    POLICIES,
    REFUSED,
    TIMEOUT,
    UNREACHABLE,
    AddressSeen,
    RouteSeen,
    TargetSeen,
    evaluate,
    evaluate_all,
)

GOOD = AddressSeen('192.0.2.1', CONNECTED, True)
GOOD2 = AddressSeen('192.0.2.2', CONNECTED, True)
WRONG_CERT = AddressSeen('192.0.2.9', CONNECTED, False, problem='certificate for other.test')
REFUSING = AddressSeen('192.0.2.5', REFUSED, False)
BLACKHOLE = AddressSeen('192.0.2.6', TIMEOUT, False)
NO_ROUTE = AddressSeen('2001:db8::6', UNREACHABLE, False)


def target(*addresses, **kw):
    return TargetSeen(kw.pop('host', 'hs.test'), kw.pop('port', 8448), addresses, **kw)


def verdicts(route):
    return dict((name, r.reachable) for name, r in evaluate_all(route, ('synapse', 'dendrite')).items())


@pytest.mark.parametrize('case, route, synapse, dendrite', [
    ('one good address', RouteSeen(targets=[target(GOOD)]), True, True),
    ('dead (refused) address before a good one', RouteSeen(targets=[target(REFUSING, GOOD)]), True, True),
    ('blackholed address before a good one', RouteSeen(targets=[target(BLACKHOLE, GOOD)]), True, True),
    ('IPv6 without a route, IPv4 good', RouteSeen(targets=[target(NO_ROUTE, GOOD)]), True, True),
    ('only a blackholed address', RouteSeen(targets=[target(BLACKHOLE)]), False, False),
    # SRV: the first target refuses, the second works: both move on at once.
    ('first SRV target refused', RouteSeen(targets=[target(REFUSING, host='a.test'), target(GOOD, host='b.test')]),
     True, True),
    # The first target is blackholed: Synapse waits 30 s (Twisted's connect timeout), longer than
    # its 10 s deadline for key fetches and queries; Dendrite gives up after 5 s and moves on.
    ('first SRV target blackholed', RouteSeen(targets=[target(BLACKHOLE, host='a.test'), target(GOOD, host='b.test')]),
     False, True),
    # A TLS failure on the first target: Synapse does not try the next one, Dendrite does.
    ('first SRV target has the wrong certificate',
     RouteSeen(targets=[target(WRONG_CERT, host='a.test'), target(GOOD, host='b.test')]), False, True),
    ('wrong certificate on one address of two', RouteSeen(targets=[target(GOOD, WRONG_CERT)]), False, False),
    ('no address at all', RouteSeen(targets=[target()]), False, False),
    # SRV lookup SERVFAIL: Synapse fails the request, Dendrite falls back to <name>:8448.
    ('SRV SERVFAIL, port 8448 works', RouteSeen(targets=None, srv_stop='SRV SERVFAIL', srv_failed=True,
                                                fallback=RouteSeen(targets=[target(GOOD)])), False, True),
    ('SRV target "."', RouteSeen(targets=None, srv_stop='SRV target "."'), False, False),
    # A well-known that never answers: Synapse has no deadline of its own for it, so its 10 s
    # query deadline runs out before the fallback. Dendrite's fetch runs on Go's default
    # transport inside a 30 s client: a TLS handshake that never answers is given up after 10 s,
    # an HTTP answer that never comes after 30 s (measured in the differential lab: reached in
    # 10.1 s and 30.0 s), a dropped SYN after the 30 s dial; its query has 5 minutes.
    ('well-known response timed out, fallback works', RouteSeen(well_known='timeout', targets=[target(GOOD)]),
     False, True),
    ('well-known TLS handshake hangs, fallback works', RouteSeen(well_known='timeout', well_known_phase='tls',
                                                                 targets=[target(GOOD)]), False, True),
    ('well-known connect blackholed, fallback works', RouteSeen(well_known='timeout', well_known_phase='connect',
                                                                targets=[target(GOOD)]), False, True),
    ('well-known unusable, fallback works', RouteSeen(well_known='none', targets=[target(GOOD)]), True, True),
    ('m.server not a server name', RouteSeen(well_known='invalid_m_server', well_known_problem='"https://x"',
                                             targets=[target(GOOD)]), False, False),
])
def test_walk(case, route, synapse, dendrite):
    assert verdicts(route) == {'synapse': synapse, 'dendrite': dendrite}, case


def test_reasons_name_the_cause_and_the_deadline():
    route = RouteSeen(targets=[target(BLACKHOLE, host='a.test'), target(GOOD, host='b.test')])
    synapse = evaluate(POLICIES['synapse'], route)
    assert 'a.test:8448' in synapse.reason and '30 s' in synapse.reason and '10 s' in synapse.reason
    dendrite = evaluate(POLICIES['dendrite'], route)
    assert dendrite.reason is None
    assert dendrite.address == 'b.test:8448 (192.0.2.1)'
    assert any('a.test:8448' in text for text in dendrite.skipped)


def test_well_known_timeout_is_named_first():
    result = evaluate(POLICIES['synapse'], RouteSeen(well_known='timeout', well_known_problem='read timed out',
                                                     targets=[target(GOOD)]))
    assert result.reason.startswith('the well-known request timed out (read timed out)')


def test_blackholed_addresses_eat_dendrites_dial_timeout():
    # Go splits the 5 s dial timeout over the remaining addresses, at least 2 s each: two
    # blackholed addresses before the good one cost 2 s + 2 s, and it is reached; behind three,
    # the deadline is spent (2 + 2 + 1 s) before the good one is tried. Twisted starts an
    # attempt every 0.3 s and keeps the others running, so Synapse gets there either way.
    two = RouteSeen(targets=[target(BLACKHOLE, BLACKHOLE, GOOD)])
    three = RouteSeen(targets=[target(BLACKHOLE, BLACKHOLE, BLACKHOLE, GOOD)])
    assert verdicts(two) == {'synapse': True, 'dendrite': True}
    assert verdicts(three) == {'synapse': True, 'dendrite': False}
    assert 'connect timeout' in evaluate(POLICIES['dendrite'], three).reason


def test_conduit_is_not_measured_and_uses_only_the_first_srv_record():
    route = RouteSeen(targets=[target(REFUSING, host='a.test', srv='_matrix-fed._tcp.x.test'),
                               target(GOOD, host='b.test', srv='_matrix-fed._tcp.x.test')])
    result = evaluate(POLICIES['conduit'], route)
    assert result.reachable is False
    assert result.as_dict()['measured'] is False
