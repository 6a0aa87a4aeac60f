# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Resolving a server name as homeservers do: resolve_route() returns a Route.

Sources (cited by section, none copied):
- Matrix spec, server-server-api.md, "Resolving server names" (steps 1-6 and 3.1-3.5).
- Synapse's client side: synapse/http/federation/matrix_federation_agent.py (step order, Host
  header and TLS name after delegation), srv_resolver.py (a lone "." target means no service;
  SERVFAIL is an error, NXDOMAIN is "no records").

A Route says where peers connect (targets in order, each with its addresses), what they send
(Host header, SNI) and what certificate name they expect; the SRV records seen (used or
shadowed), why resolution stopped, and the findings raised on the way. The per-address checks
(_probe) and the verdict (_verdict) take it from there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mxfed.federation.plugins.module_utils._budget import (
    MAX_ADDRESSES,
    MAX_SRV_TARGETS,
    Budget,
    cap_addresses,
)
from ansible_collections.mxfed.federation.plugins.module_utils._report import Finding
from ansible_collections.mxfed.federation.plugins.module_utils._servername import DEFAULT_FEDERATION_PORT
from ansible_collections.mxfed.federation.plugins.module_utils._wellknown import WellKnown, fetch_well_known

SRV_FED = '_matrix-fed._tcp.'
SRV_LEGACY = '_matrix._tcp.'
DNS_FAILURES = ('servfail', 'timeout', 'error')


class Target(object):
    """A host:port to connect to, with where it came from (SRV record or default)."""

    def __init__(self, host, port, srv=None, priority=None, weight=None, addresses=None, dns=None):
        self.host = host
        self.port = port
        self.srv = srv
        self.priority = priority
        self.weight = weight
        self.addresses = list(addresses or [])  # list of (ip, family) with family 4 / 6
        self.dns = list(dns or [])  # the DnsAnswer of each address lookup
        self.unchecked = []  # (ip, family) beyond MAX_ADDRESSES: published, not checked

    def as_dict(self):
        return {
            'host': self.host,
            'port': self.port,
            'srv': self.srv,
            'priority': self.priority,
            'weight': self.weight,
            'addresses': [ip for ip, _family in self.addresses],
            'unchecked_addresses': [ip for ip, _family in self.unchecked],
            'dns': [answer.as_dict() for answer in self.dns],
        }


class Route(object):
    """Where and how peers connect for one server name (one resolution).

    step: the row of the algorithm that decided ('1', '2', '3.1' .. '3.5', '4', '5', '6').
    host_header, tls_name, sni: what peers send and the name the certificate must be valid for
    (sni None for IP literals).
    well_known: the WellKnown of step 3 (WellKnown.skipped() for steps 1 and 2); delegated is
    its ServerName from m.server, or None.
    targets: [Target] in the order peers try them, each with its addresses and DNS answers;
    empty when resolution stopped.
    srv: one dict per SRV name looked up (name, status, records, error, deprecated, queried_for,
    used, shadowed).
    srv_stop: why resolution stopped (SRV "." or an SRV lookup failure), else None.
    srv_failed: True when that stop is a DNS failure: some implementations then take
    fallback_route().
    findings: [Finding] raised while resolving, in order.
    """

    def __init__(self, step, host_header, tls_name, sni, targets, well_known=None, srv=None, srv_stop=None,
                 srv_failed=False, findings=(), unchecked_targets=(), host_answers=None):
        self.step = step
        self.host_header = host_header
        self.tls_name = tls_name
        self.sni = sni
        self.targets = list(targets)
        self.well_known = well_known if well_known is not None else WellKnown.skipped()
        self.srv = list(srv or [])
        self.srv_stop = srv_stop
        self.srv_failed = srv_failed
        self.findings = list(findings)
        # SRV targets beyond MAX_SRV_TARGETS, in order: published, not checked.
        self.unchecked_targets = list(unchecked_targets)
        # The A/AAAA answers of tls_name's host when they were looked up during resolution
        # (steps 3.3-3.5 and 4-6): fallback_route() uses them instead of asking again.
        self.host_answers = host_answers

    @property
    def delegated(self):
        return self.well_known.delegated

    def text(self):
        """e.g. 'step 3.3: well-known -> matrix.example.org; SRV _matrix-fed._tcp.matrix.example.org
        -> hs1.example.org:8448 (192.0.2.1); Host matrix.example.org, certificate for matrix.example.org'"""
        parts = []
        if self.delegated is not None:
            parts.append('well-known -> %s' % self.delegated.raw)
        used = [entry['name'] for entry in self.srv if entry['used']]
        targets = ', '.join('%s:%d%s' % (t.host, t.port, ' (%s)' % ', '.join(ip for ip, _f in t.addresses) if t.addresses else '')
                            for t in self.targets)
        if used:
            parts.append('SRV %s -> %s' % (used[0], targets or 'nothing'))
        elif targets:
            parts.append('connect %s' % targets)
        if self.host_header:
            parts.append('Host %s, certificate for %s' % (self.host_header, self.tls_name))
        return 'step %s: %s' % (self.step, '; '.join(parts) or 'stopped')


def dns_problem(answer, step):
    """The finding for a failed DNS answer."""
    code = {'servfail': 'dns_servfail', 'timeout': 'dns_timeout', 'nxdomain': 'dns_nxdomain'}.get(answer.status, 'dns_error')
    text = {
        'servfail': 'DNS lookup of %s %s failed with SERVFAIL (%s); servers treat that as an error, not as "no record".',
        'timeout': 'DNS lookup of %s %s timed out (%s).',
        'nxdomain': 'DNS name %s does not exist (NXDOMAIN for %s)%s.',
    }.get(answer.status, 'DNS lookup of %s %s failed (%s).')
    return Finding(code, text % (answer.name, answer.rdtype, answer.error or ''), step=step, name=answer.name)


def with_addresses(network, targets, step, srv_step, deadline=None, known=None):
    """A/AAAA for every target in one round of lookups (in parallel, by `deadline`). Returns
    (targets with addresses and DNS answers, findings); SRV targets (srv_step) that are CNAMEs
    are flagged. known: {host (lower case): [DnsAnswer]} already looked up (not asked again).
    At most MAX_ADDRESSES addresses per target are kept for checking; the rest are listed as
    unchecked, with an `addresses_capped` finding."""
    found = []
    types = network.address_types()
    known = dict(known or {})
    jobs = [(index, rdtype) for index in range(len(targets)) for rdtype in types
            if targets[index].host.lower() not in known]
    answers_all = network.lookup_many([(targets[index].host, rdtype) for index, rdtype in jobs], deadline=deadline) \
        if jobs else []
    resolved = []
    for index, old in enumerate(targets):
        if old.host.lower() in known:
            answers = [(a.rdtype, a) for a in known[old.host.lower()]]
        else:
            answers = [(rdtype, answer) for (i, rdtype), answer in zip(jobs, answers_all) if i == index]
        addresses = list(old.addresses)
        for rdtype, answer in answers:
            family = 4 if rdtype == 'A' else 6
            addresses.extend((rec['address'], family) for rec in answer.records)
            if srv_step and answer.is_cname and answer.records:
                found.append(Finding('srv_target_cname', 'SRV target %s is an alias (CNAME) for %s.'
                                     % (old.host, answer.canonical_name), step=step, canonical=answer.canonical_name))
        failed = [a for _r, a in answers if a.status in DNS_FAILURES]
        if not addresses:
            if failed:
                found.append(dns_problem(failed[0], step))
            elif any(a.status == 'nxdomain' for _r, a in answers):
                found.append(Finding('dns_nxdomain', 'The host %s does not exist in DNS (NXDOMAIN).' % old.host,
                                     step=step, name=old.host))
            else:
                found.append(Finding('no_address', 'The host %s has no %s record.' % (old.host, '/'.join(types)),
                                     step=step, name=old.host))
        elif failed:
            found.append(Finding('dns_partial_failure', '%s lookup of %s failed (%s) while other records resolve.'
                                 % (failed[0].rdtype, old.host, failed[0].status), step=step,
                                 name=old.host, detail='%s %s' % (failed[0].rdtype, failed[0].status)))
        # Keep the order other servers use: IPv6 first is what happy-eyeballs prefers, but we
        # check every address anyway, so order only affects the report. Sort for stability.
        addresses = sorted(set(addresses), key=lambda item: (item[1], item[0]))
        addresses, unchecked = cap_addresses(addresses)
        if unchecked:
            found.append(Finding('addresses_capped', '%s has %d addresses; the first %d are checked (%s), not %s.'
                                 % (old.host, len(addresses) + len(unchecked), len(addresses),
                                    ', '.join(ip for ip, _f in addresses),
                                    ', '.join(ip for ip, _f in unchecked[:10]) + (' ...' if len(unchecked) > 10 else '')),
                                 step=step, name=old.host, limit=MAX_ADDRESSES))
        target = Target(old.host, old.port, srv=old.srv, priority=old.priority, weight=old.weight,
                        addresses=addresses, dns=[a for _r, a in answers])
        target.unchecked = unchecked
        resolved.append(target)
    return resolved, found


def _srv_entry(answer, deprecated, queried_for, shadowed=False):
    return {'name': answer.name, 'status': answer.status, 'records': answer.records, 'error': answer.error,
            'deprecated': deprecated, 'queried_for': queried_for, 'used': False, 'shadowed': shadowed}


class SrvChoice(object):
    """What steps 3.3-3.5 (or 4-6) decided from the two SRV answers for one host.

    targets None means discovery stops there (stop says why, failed whether DNS failed)."""

    def __init__(self, step, targets, entries, findings, stop=None, failed=False):
        self.step = step
        self.targets = targets
        self.entries = entries
        self.findings = findings
        self.stop = stop
        self.failed = failed
        self.unchecked = []  # distinct SRV targets beyond MAX_SRV_TARGETS


def choose_srv(host, fed, legacy, used_by, steps):
    """Apply steps 3.3/3.4/3.5 (or 4/5/6) to the answers for _matrix-fed and _matrix on host."""
    fed_entry, legacy_entry = entries = [_srv_entry(fed, False, used_by), _srv_entry(legacy, True, used_by)]
    found = []
    # Synapse srv_resolver: NXDOMAIN = no records; any other DNS failure is raised and the
    # request fails (no fallback to A/AAAA). _matrix._tcp is only looked at when
    # _matrix-fed._tcp has nothing (spec "Resolving server names" step 3.4 / 5).
    for answer, entry, step in ((fed, fed_entry, steps[0]), (legacy, legacy_entry, steps[1])):
        if answer.status in DNS_FAILURES:
            found.append(dns_problem(answer, step))
            return SrvChoice(step, None, entries, found, stop='the SRV lookup of %s failed (%s)' % (answer.name, answer.status),
                             failed=True)
        if answer.status != 'ok':
            continue
        entry['used'] = True
        if answer is fed and legacy.status == 'ok':
            legacy_entry['shadowed'] = True
            found.append(Finding('srv_shadowed', 'SRV %s exists but is ignored because %s exists.' % (legacy.name, fed.name),
                                 step=step, name=legacy.name))
        if answer is legacy:
            found.append(Finding('srv_deprecated', 'Only the deprecated SRV record %s exists.' % legacy.name, step=step,
                                 name=legacy.name, new_name=fed.name))
        records = answer.records
        if all(r['target'] in ('.', '') for r in records):
            found.append(Finding('srv_no_service', 'SRV %s has the target "." which means "no federation service here"; '
                                 'other servers give up.' % answer.name, step=step, name=answer.name))
            return SrvChoice(step, None, entries, found,
                             stop='SRV %s says "no federation service here" (target ".")' % answer.name)
        ordered = sorted((r for r in records if r['target'] not in ('.', '')),
                         key=lambda r: (r['priority'], -r['weight'], r['target'], r['port']))
        # One target per host:port (the first, i.e. best priority): 500 identical records are
        # one server, not 500 checks of it.
        unique, keys = [], set()
        for record in ordered:
            key = (record['target'].rstrip('.').lower(), record['port'])
            if key not in keys:
                keys.add(key)
                unique.append(record)
        if len(unique) < len(ordered):
            found.append(Finding('srv_duplicate_records', 'SRV %s has %d records for %d distinct targets; each target is '
                                 'checked once.' % (answer.name, len(ordered), len(unique)), step=step, name=answer.name))
        targets = [Target(r['target'].rstrip('.'), r['port'], srv=answer.name, priority=r['priority'], weight=r['weight'])
                   for r in unique]
        choice = SrvChoice(step, targets[:MAX_SRV_TARGETS], entries, found)
        choice.unchecked = targets[MAX_SRV_TARGETS:]
        if choice.unchecked:
            found.append(Finding('srv_targets_capped', 'SRV %s has %d distinct targets; the first %d in priority order are '
                                 'checked, not %s.' % (answer.name, len(targets), MAX_SRV_TARGETS, ', '.join(
                                     '%s:%d' % (t.host, t.port) for t in choice.unchecked[:10])
                                     + (' ...' if len(choice.unchecked) > 10 else '')),
                                 step=step, name=answer.name, limit=MAX_SRV_TARGETS))
        return choice
    return SrvChoice(steps[2], [Target(host, DEFAULT_FEDERATION_PORT)], entries, found)


def _direct(network, name, ip_step, port_step, well_known=None, deadline=None):
    """Rows 1/2 (the server name) and 3.1/3.2 (the delegated name): an IP literal is connected
    to as is, certificate for the IP and no SNI; a DNS name with an explicit port gets its
    A/AAAA records, SNI and certificate for the host. Host header = the name as given.
    Returns None when neither applies."""
    before = well_known.findings if well_known is not None else []
    if name.is_ip:
        target = Target(name.host, name.port or DEFAULT_FEDERATION_PORT, addresses=[(name.host, name.ip_version)])
        return Route(ip_step, name.raw, name.host, None, [target], well_known=well_known, findings=before)
    if name.port is not None:
        targets, found = with_addresses(network, [Target(name.host, name.port)], port_step, False, deadline)
        return Route(port_step, name.raw, name.host, name.host, targets, well_known=well_known, findings=before + found)
    return None


def _by_srv(network, host, answers, used_by, steps, well_known, deadline=None, host_answers=None):
    """Steps 3.3-3.5 or 4-6: SRV on host; Host header, SNI and certificate name stay host, never
    the SRV target (matrix_federation_agent: the TLS name is the parsed server name, SRV only
    changes where we connect). host_answers: the A/AAAA answers of host, if already asked."""
    choice = choose_srv(host, answers[0], answers[1], used_by, steps)
    found = well_known.findings + choice.findings
    targets = []
    if choice.targets is not None:
        known = {host.lower(): host_answers} if host_answers is not None else None
        targets, addr_found = with_addresses(network, choice.targets, choice.step, choice.step in steps[:2], deadline,
                                             known=known)
        found += addr_found
    return Route(choice.step, host, host, host, targets, well_known=well_known, srv=choice.entries,
                 srv_stop=choice.stop, srv_failed=choice.failed, findings=found, unchecked_targets=choice.unchecked,
                 host_answers=host_answers)


def resolve_route(name, network, pool, budget=None):
    """Resolve a parsed ServerName as the spec's algorithm does. Returns a Route.

    DNS lookups and the well-known's per-address probes run as leaf tasks on pool (they wait
    for no other task); the caller's thread waits for them. budget (a _budget.Budget, default
    one for network.timeout): the well-known step, then the DNS step, each by its deadline."""
    if budget is None:
        budget = Budget(network.timeout)
    # Steps 1 and 2: an IP literal or an explicit port: no well-known, no SRV (the reference
    # tester fetches the well-known anyway).
    if name.is_ip or name.port is not None:
        deadline = budget.step()
        route = _direct(network, name, '1', '2', deadline=deadline)
        budget.note_deadline('dns', deadline)
        return route
    host = name.host
    # Start the SRV lookups of steps 4/5 while the well-known is fetched: they are needed
    # when it fails and recorded (as ignored) when it succeeds. Costs no wall time.
    wk_deadline = budget.step()
    srv_pair = pool.submit(network.lookup_many, [(SRV_FED + host, 'SRV'), (SRV_LEGACY + host, 'SRV')], wk_deadline)
    well_known = fetch_well_known(network, name, pool, deadline=wk_deadline, budget=budget)
    own_srv = srv_pair.result()
    budget.note_deadline('well-known', wk_deadline)
    deadline = budget.step()
    delegated = well_known.delegated
    if delegated is None:
        # Steps 4/5/6: any well-known failure means "no delegation" (Synapse
        # well_known_resolver returns None, the agent goes on with SRV on the server name).
        route = _by_srv(network, host, own_srv, 'server_name', ('4', '5', '6'), well_known, deadline,
                        host_answers=well_known.answers)
        budget.note_deadline('dns', deadline)
        return route
    # 3.1 and 3.2: m.server is an IP literal or has a port: the same rules as steps 1 and 2,
    # applied to the delegated name (Host header = m.server as given).
    route = _direct(network, delegated, '3.1', '3.2', well_known, deadline=deadline)
    if route is None:
        # 3.3-3.5: SRV on the *delegated* name.
        if delegated.host.lower() == host.lower():
            answers, host_answers = own_srv, well_known.answers
        else:
            # The delegated name's A/AAAA beside its SRV: step 3.5 and the fallback after an
            # SRV failure need them, and asking now costs no round trip.
            types = network.address_types()
            both = network.lookup_many([(SRV_FED + delegated.host, 'SRV'), (SRV_LEGACY + delegated.host, 'SRV')]
                                       + [(delegated.host, rdtype) for rdtype in types], deadline=deadline)
            answers, host_answers = both[:2], both[2:]
        route = _by_srv(network, delegated.host, answers, 'delegated', ('3.3', '3.4', '3.5'), well_known, deadline,
                        host_answers=host_answers)
    budget.note_deadline('dns', deadline)
    if delegated.host.lower() != host.lower():
        # Record the server name's own SRV records: shadowed by the well-known delegation.
        for answer, deprecated in zip(own_srv, (False, True)):
            route.srv.append(_srv_entry(answer, deprecated, 'server_name', shadowed=answer.status == 'ok'))
            if answer.status == 'ok':
                route.findings.append(Finding('srv_ignored_delegated', 'SRV %s exists but the well-known delegation takes '
                                              'precedence.' % answer.name, step=route.step, name=answer.name))
    return route


def fallback_route(route, network, deadline=None):
    """<tls name>:8448, where Dendrite and Conduit go after an SRV lookup failure (Synapse fails
    the request). Not the spec's route: its findings are for the verdict, not the report. Uses
    the A/AAAA answers looked up during resolution when there are some."""
    known = {route.tls_name.lower(): route.host_answers} if route.host_answers is not None else None
    targets, found = with_addresses(network, [Target(route.tls_name, DEFAULT_FEDERATION_PORT)], route.step, False,
                                    deadline, known=known)
    return Route(route.step, route.host_header, route.tls_name, route.sni, targets, well_known=route.well_known,
                 findings=found)
