# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""The verdict: would a real homeserver reach this server, and if not, why?

The check observes everything (every address, both SRV names, the fallback after a broken
well-known); a peer takes one route through what it observes, with its own fallbacks and
deadlines. This file walks that route for each implementation, from what the check saw, and
says whether the walk ends at an address that proves the server's identity (TLS for the right
name, keys signed for the server name). It does no I/O.

What each implementation does (read in their sources, measured in the differential lab,
docs/delegation_check.md "What each implementation does"):
- Synapse 1.163 (synapse/http/federation/matrix_federation_agent.py `_do_connect`,
  well_known_resolver.py, http/matrixfederationclient.py): SRV `_matrix-fed._tcp` then
  `_matrix._tcp`; targets in priority order; each target through Twisted's HostnameEndpoint
  (every address, attempts 0.3 s apart, first TCP connection wins, 30 s connect timeout); a
  target that does not connect -> the next target; a TLS failure surfaces after the connection
  and fails the request (no next target). The well-known fetch has no deadline of its own.
  Key fetches and queries run under one 10 s deadline with no retry.
- Dendrite 0.13.8 (gomatrixserverlib fclient resolve.go, client.go, well_known.go): the same
  SRV names; any SRV error other than "not found" falls back to <name>:8448; each resolution
  result in turn, and any error (connect or TLS) moves to the next; Go's dialer tries the
  addresses of a target one after another within a 5 s dial timeout; the well-known request has
  30 s; an `m.server` that is not a valid server name fails the resolution. Its federation client
  gives a request 5 minutes (setup/base/base.go `WithTimeout(time.Minute * 5)`): queries such as
  the profile lookup and transactions; key fetches have 30 s of their own (federationapi/internal/
  keys.go), and resolutions are cached, so a slow first contact is paid once.
- Conduit 0.11-alpha (by its source, src/api/server_server.rs `find_actual_destination`; not
  measured here, no binary in CI): any well-known failure falls back; `_matrix-fed._tcp` then
  `_matrix._tcp`, and only the first record of the answer is used; an SRV failure falls back to
  <name>:8448; reqwest's 30 s connect timeout, 180 s per request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Observed connect outcomes (per address). 'timeout': no answer within the check's timeout,
# as a blackholed address behaves; 'unreachable': an immediate error (no route, host down).
CONNECTED = 'ok'
REFUSED = 'refused'
TIMEOUT = 'timeout'
UNREACHABLE = 'unreachable'

INFINITY = float('inf')


class Policy(object):
    """How one implementation walks the route. Times in seconds."""

    def __init__(self, name, label, measured, budget, connect_timeout, address_attempts, next_target_after_tls,
                 srv_failure, well_known_timeout, only_first_srv=False):
        self.name = name
        self.label = label
        self.measured = measured
        self.budget = budget  # deadline of the request that must succeed (key fetch, query)
        self.connect_timeout = connect_timeout  # per target
        self.address_attempts = address_attempts  # 'staggered' (happy eyeballs) or 'serial'
        self.next_target_after_tls = next_target_after_tls
        self.srv_failure = srv_failure  # 'fail' or 'fallback' (to <name>:8448)
        # Seconds the well-known fetch waits before giving up, per phase where it hangs
        # ('connect', 'tls', 'response'); None: bounded only by the budget.
        self.well_known_timeout = well_known_timeout
        self.only_first_srv = only_first_srv


POLICIES = {
    'synapse': Policy('synapse', 'Synapse', True, budget=10.0, connect_timeout=30.0, address_attempts='staggered',
                      next_target_after_tls=False, srv_failure='fail',
                      well_known_timeout={'connect': 30.0, 'tls': None, 'response': None}),
    # The well-known request runs on Go's default transport (30 s dial, 10 s TLS handshake) inside
    # a 30 s http.Client (fclient/well_known.go); measured: a handshake that never answers costs
    # 10.1 s, an answer that never comes 30.0 s, then the fallback is used within the query's 5 min.
    'dendrite': Policy('dendrite', 'Dendrite', True, budget=300.0, connect_timeout=5.0, address_attempts='serial',
                       next_target_after_tls=True, srv_failure='fallback',
                       well_known_timeout={'connect': 30.0, 'tls': 10.0, 'response': 30.0}),
    # Conduit: reqwest with a 30 s connect timeout and 180 s per request, the well-known request
    # and the federation request each on their own (src/service/globals/mod.rs).
    'conduit': Policy('conduit', 'Conduit', False, budget=360.0, connect_timeout=30.0, address_attempts='serial',
                      next_target_after_tls=False, srv_failure='fallback',
                      well_known_timeout={'connect': 30.0, 'tls': 30.0, 'response': 180.0},
                      only_first_srv=True),
}
IMPLEMENTATIONS = ('synapse', 'dendrite', 'conduit')  # measured ones first: reports list them in this order


class AddressSeen(object):
    """What the check saw on one address of a target."""

    def __init__(self, ip, connect, identity_ok, problem=None, hangs=False):
        self.ip = ip
        self.hangs = bool(hangs)  # connected, then no answer (TLS or HTTP) within the check's timeout
        self.connect = connect  # CONNECTED, REFUSED, TIMEOUT, UNREACHABLE
        self.identity_ok = bool(identity_ok)  # TLS verified for the right name, keys valid
        self.problem = problem  # short text when not identity_ok


class TargetSeen(object):
    def __init__(self, host, port, addresses, srv=None, dns_problem=None):
        self.host = host
        self.port = port
        self.addresses = list(addresses)
        self.srv = srv
        self.dns_problem = dns_problem

    @property
    def where(self):
        return '%s:%d' % (self.host, self.port)


class RouteSeen(object):
    """One route as the check observed it.

    well_known: 'delegated', 'none' (absent or unusable: peers go on to step 4), 'timeout' (no
    answer in time), 'skipped' (steps 1/2), 'invalid_m_server' (JSON fine, m.server not a
    server name); well_known_problem: text for reasons.
    targets: TargetSeen in the order peers try them; None when resolution stopped (srv_stop).
    srv_stop: text when SRV answered "no service" ('.') or failed.
    srv_failed: True when that stop is a DNS failure (SERVFAIL, timeout), not '.'.
    fallback: RouteSeen of <name>:8448, observed when some peer takes it after srv_failed (else
    None).
    split: text when peers may see different servers depending on the address they pick (the
    addresses of the server name answer the well-known differently, or the federation
    addresses serve different keys): some peers fail, whatever the rest of the route does.
    """

    def __init__(self, well_known='skipped', targets=None, well_known_problem=None, srv_stop=None, srv_failed=False,
                 fallback=None, split=None, well_known_phase='response'):
        self.well_known = well_known
        self.well_known_problem = well_known_problem
        self.targets = targets
        self.srv_stop = srv_stop
        self.srv_failed = srv_failed
        self.fallback = fallback
        self.split = split
        self.well_known_phase = well_known_phase  # where a timed-out well-known fetch hung


class Reachability(object):
    def __init__(self, policy, reachable, reason=None, address=None, skipped=None):
        self.policy = policy
        self.reachable = reachable
        self.reason = reason
        self.address = address
        self.skipped = list(skipped or [])

    def as_dict(self):
        return {'reachable': self.reachable, 'reason': self.reason, 'measured': self.policy.measured,
                'address': self.address, 'skipped': self.skipped}


def _fmt_seconds(value):
    return '%.0f s' % value if value >= 1 else '%.1f s' % value


def _connect_cost(policy, target, index):
    """(seconds, reached) a peer spends on the addresses before index `index` of target (they
    failed), and whether it gets to try that address at all within the connect timeout."""
    before = target.addresses[:index]
    if policy.address_attempts == 'staggered':
        # Twisted HostnameEndpoint starts one attempt every 0.3 s and keeps the earlier ones
        # running: failed addresses cost only the stagger.
        return 0.3 * index, 0.3 * index < policy.connect_timeout
    cost = 0.0
    remaining = policy.connect_timeout
    for position, seen in enumerate(before):
        if seen.connect == TIMEOUT:
            # Go's dialer gives each remaining address an equal share of what is left of the
            # dial timeout, at least 2 s (net/dial.go partialDeadline), never past the deadline.
            share = min(max(2.0, remaining / (len(target.addresses) - position)), remaining)
            cost += share
            remaining -= share
            if remaining <= 0:
                return cost, False
    return cost, True


def _walk_targets(policy, targets, spent):
    """Returns (Reachability fields) walking targets from `spent` seconds on."""
    skipped = []
    first_problem = None
    order = targets[:1] if policy.only_first_srv and targets and targets[0].srv else targets
    for target in order:
        if not target.addresses:
            text = '%s has no address (%s)' % (target.host, target.dns_problem or 'no A/AAAA record')
            skipped.append(text)
            first_problem = first_problem or text
            continue
        chosen = None
        for index, seen in enumerate(target.addresses):
            if seen.connect == CONNECTED:
                chosen = index
                break
        if chosen is None:
            # No address accepted the connection: a timeout costs the connect timeout.
            waited = policy.connect_timeout if any(a.connect == TIMEOUT for a in target.addresses) else 0.0
            text = '%s: no address connected (%s)' % (
                target.where, ', '.join('%s %s' % (a.ip, a.connect) for a in target.addresses))
            if spent + waited >= policy.budget:
                return False, ('%s; %s waits %s for the connection, longer than its %s deadline for key fetches and '
                               'queries' % (text, policy.label, _fmt_seconds(policy.connect_timeout),
                                            _fmt_seconds(policy.budget))), None, skipped
            spent += waited
            skipped.append(text)
            first_problem = first_problem or text
            continue
        cost, reached = _connect_cost(policy, target, chosen)
        if not reached:
            text = '%s: %s reached its %s connect timeout on the addresses before %s' % (
                target.where, policy.label, _fmt_seconds(policy.connect_timeout), target.addresses[chosen].ip)
            spent += cost
            skipped.append(text)
            first_problem = first_problem or text
            continue
        spent += cost
        if spent >= policy.budget:
            return False, ('connecting to %s took longer than %s\'s %s deadline (addresses before %s did not answer)'
                           % (target.where, policy.label, _fmt_seconds(policy.budget), target.addresses[chosen].ip)), \
                None, skipped
        for earlier in target.addresses[:chosen]:
            skipped.append('%s %s on %s' % (earlier.ip, earlier.connect, target.where))
        # Every address that accepts connections may be the one a peer's resolver puts first:
        # if any of them fails TLS or the keys, some peers fail.
        bad = [a for a in target.addresses if a.connect == CONNECTED and not a.identity_ok]
        good = [a for a in target.addresses if a.connect == CONNECTED and a.identity_ok]
        hung = [a for a in bad if a.hangs]
        if hung:
            # Neither Twisted nor Go's transport bound the handshake or the answer by themselves:
            # the peer waits on that connection until its request deadline.
            return False, ('%s on %s accepts the connection and then does not answer (%s); %s waits on it until its %s '
                           'deadline' % (hung[0].ip, target.where, hung[0].problem or 'timeout', policy.label,
                                         _fmt_seconds(policy.budget))), None, skipped
        if not bad:
            return True, None, '%s (%s)' % (target.where, target.addresses[chosen].ip), skipped
        text = '%s on %s: %s' % (bad[0].ip, target.where, bad[0].problem or 'identity not proven')
        if policy.next_target_after_tls:
            skipped.append(text)
            first_problem = first_problem or text
            continue
        if good:
            text += ' (peers that connect to %s first succeed; which address comes first is up to their resolver)' \
                % good[0].ip
        return False, '%s; %s does not try another target after a TLS or identity failure' % (text, policy.label), \
            None, skipped
    if not order:
        return False, 'no target to connect to', None, skipped
    return False, first_problem if len(order) == 1 else 'no target worked: %s' % '; '.join(skipped), None, skipped


def evaluate(policy, route):
    """Reachability of the server for one implementation, from what the check observed."""
    spent = 0.0
    prefix = ''
    if route.split:
        return Reachability(policy, False, '%s; which one a peer gets depends on the address its resolver picks'
                            % route.split)
    if route.well_known == 'timeout':
        limit = policy.well_known_timeout.get(route.well_known_phase or 'response')
        waited = policy.budget if limit is None else min(limit, policy.budget)
        if waited >= policy.budget:
            return Reachability(policy, False, 'the well-known request timed out (%s); %s waits for it for up to its %s '
                                'deadline and never reaches the fallback' % (
                                    route.well_known_problem or 'no answer', policy.label, _fmt_seconds(policy.budget)))
        spent += waited
        prefix = 'after the well-known timed out: '
    if route.well_known == 'invalid_m_server':
        # Not skipped like a broken file, by anyone: Synapse connects to the string as given,
        # gomatrixserverlib fails the resolution, Conduit splits it at ':' and fails.
        return Reachability(policy, False, 'the well-known names %s, which is not a server name; %s gives up'
                            % (route.well_known_problem, policy.label))
    if route.targets is None:
        if route.srv_failed and policy.srv_failure == 'fallback':
            if route.fallback is None:
                return Reachability(policy, False, '%s; %s falls back to port 8448, which was not checked'
                                    % (route.srv_stop, policy.label))
            route = route.fallback
            prefix = '%s falls back to port 8448 after the SRV failure: ' % policy.label
        else:
            return Reachability(policy, False, route.srv_stop or 'resolution stopped')
    reachable, reason, address, skipped = _walk_targets(policy, route.targets or [], spent)
    if reason and prefix and not reachable:
        reason = prefix + reason
    return Reachability(policy, reachable, reason, address, skipped)


def evaluate_all(route, implementations=IMPLEMENTATIONS):
    """{implementation: Reachability} for the given implementation names."""
    return dict((name, evaluate(POLICIES[name], route)) for name in implementations)
