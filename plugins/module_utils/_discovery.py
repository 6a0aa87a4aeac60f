# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Matrix server discovery as other homeservers perform it, checked from the outside.

The entry point: check_server() and check_many() run the pieces and join what they return:
- _route.py: resolution (spec "Resolving server names", steps 1-6) -> a Route; _wellknown.py
  its step 3;
- _probe.py: the checks of one address (TLS, certificate, keys, version, proxy);
- _client.py: client discovery (optional);
- _verdict.py: each implementation's walk of the route.
Here: concurrency, the per-address results joined (IPv6 fallback, keys consistency), the
verdict's input and the result dict.

Sources (cited by section, none copied): Matrix spec, server-server-api.md, "Resolving server
names", "Server discovery" / "Retrieving server keys"; the files above cite theirs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import time

from ansible_collections.mxfed.federation.plugins.module_utils._budget import (
    MAX_REQUESTS,
    STEP_LABELS,
    Budget,
    check_bound,
)
from ansible_collections.mxfed.federation.plugins.module_utils._client import check_client
from ansible_collections.mxfed.federation.plugins.module_utils._keys import keys_fingerprint
from ansible_collections.mxfed.federation.plugins.module_utils._probe import probe_address
from ansible_collections.mxfed.federation.plugins.module_utils._report import (
    ERROR,
    INFO,
    WARNING,
    Finding,
    build_summary,
)
from ansible_collections.mxfed.federation.plugins.module_utils._route import fallback_route, resolve_route
from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    ServerNameError,
    parse_server_name,
)
from ansible_collections.mxfed.federation.plugins.module_utils._verdict import (
    CONNECTED,
    IMPLEMENTATIONS,
    TIMEOUT,
    POLICIES,
    AddressSeen,
    RouteSeen,
    TargetSeen,
    evaluate_all,
)
from ansible_collections.mxfed.federation.plugins.module_utils._wellknown import WELL_KNOWN_UNUSABLE

OPTIONAL_CHECKS = ('keys', 'version', 'client', 'proxy')


def _submit_probes(network, route, server_name, checks, pool, deadline, budget):
    """Every address of every target of route, as leaf tasks. Returns [(target, future)] in
    route order."""
    return [(target, pool.submit(probe_address, network, route, server_name, checks, target, ip, family, deadline, budget))
            for target in route.targets for ip, family in target.addresses]


def _collect(jobs):
    """[(target, (result, found))] of _submit_probes' jobs, in route order."""
    return [(target, future.result()) for target, future in jobs]


def _join_addresses(route, per_address, ip_version):
    """The address results in order and their findings; an AAAA without an IPv6 listener while
    IPv4 works is a warning, not an error (servers fall back to IPv4 after a delay), per
    DISCOVERY.md point 5. Returns (addresses, findings)."""
    addresses, findings = [], []
    ok_v4_targets = set(id(t) for t, (res, _f) in per_address if res['family'] == 4 and res['ok'])
    for target, (res, found) in per_address:
        if res['family'] == 6 and id(target) in ok_v4_targets and ip_version == 'any':
            found = [Finding('ipv6_not_listening', 'IPv6 address %s of %s does not answer on port %d while IPv4 works (%s).'
                             % (res['address'], target.host, target.port, res['error']), address=f.address,
                             ip=res['address'], port=target.port, name=target.host)
                     if f.code == 'tcp_connect_failed' else f for f in found]
        findings.extend(found)
        addresses.append(res)
    if any(t.port == 443 for t in route.targets):
        findings.append(Finding('federation_port_443', 'Federation is served on port 443, shared with clients and web '
                                'traffic (%s).' % ', '.join('%s:%d' % (t.host, t.port) for t in route.targets if t.port == 443),
                                step=route.step))
    return addresses, findings


def _keys_summary(addresses):
    """The keys peers get, and whether every address serves the same ones. Only addresses a peer
    would accept (verified TLS for the right name) hand out keys that count.
    Returns (keys dict or None, findings)."""
    with_keys = [res for res in addresses if isinstance(res.get('keys'), dict) and res['keys'].get('verify_keys')
                 and (res.get('tls') or {}).get('verified') and (res.get('certificate') or {}).get('name_ok')]
    if not with_keys:
        return None, []
    prints = {}
    for res in with_keys:
        prints.setdefault(keys_fingerprint(res['keys']), []).append(res['address'])
    first = with_keys[0]['keys']
    keys = {'server_name': first.get('server_name'), 'verify_keys': first.get('verify_keys'),
            'valid_until_ts': first.get('valid_until_ts'), 'consistent': len(prints) == 1, 'variants': len(prints)}
    if len(prints) == 1:
        return keys, []
    return keys, [Finding('keys_differ', 'Addresses serve different keys: %s.' % '; '.join(
        '%s -> %s' % (', '.join(ips), fp) for fp, ips in prints.items()), step='keys')]


def _first_version(addresses):
    for res in addresses:
        if res.get('version') and res['version'].get('name'):
            return res['version']
    return None


def _targets_seen(targets, per_address, unchecked_targets=()):
    """What peers walk: the targets in order, each address as the check saw it.

    What a cap or the check's deadline left unobserved is not taken as working: an address
    beyond MAX_ADDRESSES is seen as one that timed out (a peer that gets to it may wait its
    connect timeout there), an SRV target beyond MAX_SRV_TARGETS as one without addresses
    (a peer that gets to it is not known to succeed). Neither changes a walk that ends at a
    checked address before them."""
    results = {}
    for target, (res, found) in per_address:
        problems = [f.message for f in found if f.level == ERROR]
        results[(id(target), res['address'])] = AddressSeen(
            res['address'], res['tcp'] if res['tcp'] in ('refused', 'timeout', 'unreachable') else CONNECTED,
            res['ok'], problem=problems[0] if problems else res.get('error'), hangs=bool(res.get('hung')))
    seen = []
    for target in targets:
        dns_problem = ', '.join('%s %s' % (a.rdtype, a.status) for a in target.dns if a.status != 'ok') or None
        addresses = [results[(id(target), ip)] for ip, _f in target.addresses if (id(target), ip) in results]
        addresses += [AddressSeen(ip, TIMEOUT, False, problem='not checked (more than %d addresses)' % len(target.addresses))
                      for ip, _f in target.unchecked]
        seen.append(TargetSeen(target.host, target.port, addresses, srv=target.srv, dns_problem=dns_problem))
    for target in unchecked_targets:
        seen.append(TargetSeen(target.host, target.port, [], srv=target.srv,
                               dns_problem='not checked: beyond the first %d SRV targets' % len(targets)))
    return seen


def _route_seen(route, per_address, findings, fallback=None):
    """The verdict's input: the route as observed. fallback: the RouteSeen of fallback_route()."""
    well_known = route.well_known
    if well_known.result in ('delegated', 'skipped', 'timeout', 'invalid_m_server'):
        state = well_known.result
    else:
        state = 'none'
    problem = well_known.error or well_known.m_server
    if well_known.result == 'invalid_m_server':
        problem = repr(well_known.m_server)
    stopped = route.srv_stop is not None and not route.targets
    split = '; '.join(f.message for f in findings if f.code in ('well_known_inconsistent', 'keys_differ'))
    return RouteSeen(well_known=state, well_known_problem=problem,
                     targets=None if stopped else _targets_seen(route.targets, per_address, route.unchecked_targets),
                     srv_stop=route.srv_stop, srv_failed=route.srv_failed, fallback=fallback,
                     split=split or None,
                     well_known_phase=well_known.timeout_phase or 'response')


def _join_labels(names):
    labels = [POLICIES[name].label for name in names]
    return labels[0] if len(labels) == 1 else '%s and %s' % (', '.join(labels[:-1]), labels[-1])


def _verdict(server_name, implementations, seen, findings):
    """Walk the route per implementation; re-level findings by the outcome (a failure peers skip
    past becomes a warning naming the risk; an unusable well-known becomes the cause when its
    fallback fails too) and put one line per reason first, the cause before the evidence.

    Returns (federation_ok, reachability by implementation); findings is updated in place."""
    reachability = evaluate_all(seen)
    ok = all(reachability[name].reachable for name in implementations)
    failing = [name for name in implementations if not reachability[name].reachable]
    for finding in findings:
        if ok and finding.level == ERROR:
            # Peers skip past it today; it stays in the report as the risk it is.
            finding.demote('Peers reach the server another way today (%s), so this is a risk, not a failure.'
                           % reachability[implementations[0]].address)
        elif not ok and finding.code in WELL_KNOWN_UNUSABLE:
            # The fallback failed too: now the broken well-known is the cause to name.
            finding.promote()
    # One line per distinct reason, naming every implementation it stops.
    causes, others = [], []
    for name in IMPLEMENTATIONS:
        reach = reachability[name]
        if not reach.reachable:
            group = causes if name in failing else others
            for entry in group:
                if entry[0] == reach.reason:
                    entry[1].append(name)
                    break
            else:
                group.append((reach.reason, [name]))
    lines = []
    for code, group in (('peer_unreachable', causes), ('peer_unreachable_other', others)):
        for reason, names in group:
            labels = _join_labels(names)
            text = '%s would not reach %s: %s.' % (labels, server_name, reason)
            unmeasured = [POLICIES[n].label for n in names if not POLICIES[n].measured]
            if unmeasured:
                text += ' (%s: modelled from the source, not measured.)' % ', '.join(unmeasured)
            lines.append(Finding(code, text, implementation=labels))
    findings[:0] = lines
    return ok, reachability


def _budget_findings(budget):
    """step_deadline for each step that ran out of time, requests_capped when the request cap
    was reached."""
    found = []
    for step in budget.ran_out:
        found.append(Finding('step_deadline', 'The check ran out of time in %s: it ends each step within timeout (%.1f s) '
                             'and the whole check within %.1f s; what did not answer by then is reported as a timeout.'
                             % (STEP_LABELS[step], budget.timeout, check_bound(budget.timeout)),
                             step={'well-known': '3', 'addresses': 'connect'}.get(step, step), what=STEP_LABELS[step],
                             timeout=budget.timeout))
    if budget.refused:
        found.append(Finding('requests_capped', 'The check made its %d HTTP requests and left %d more unsent (each is '
                             'reported as failed).' % (MAX_REQUESTS, budget.refused), limit=MAX_REQUESTS))
    return found


def _check(name, network, checks, implementations, pool):
    """One parsed server name: the pieces on pool (leaf tasks), joined, each step by its
    deadline (_budget.py: within 3 x timeout + 1 s in all). Returns the findings and the
    result dict without summary and elapsed."""
    budget = Budget(network.timeout)
    client_future = pool.submit(check_client, network, name, budget.deadline, budget) if 'client' in checks else None
    route = resolve_route(name, network, pool, budget)
    fallback = fallback_jobs = None
    if route.srv_failed:
        # After an SRV lookup failure Synapse fails the request, but Dendrite and Conduit go on
        # to <name>:8448: check that route too, quietly (it is not the spec's route; the
        # verdict cites what it found). Its addresses were looked up in the DNS step.
        fallback = fallback_route(route, network, budget.step())
    deadline = budget.step()
    jobs = _submit_probes(network, route, name.raw, checks, pool, deadline, budget)
    if fallback is not None:
        fallback_jobs = _submit_probes(network, fallback, name.raw, checks, pool, deadline, budget)
    per_address = _collect(jobs)
    fallback_addresses = _collect(fallback_jobs) if fallback_jobs is not None else None
    if jobs or fallback_jobs:
        budget.note_deadline('addresses', deadline)
    client, client_found = client_future.result() if client_future is not None else (None, [])
    if client_future is not None:
        budget.note_deadline('client', budget.deadline)

    addresses, address_found = _join_addresses(route, per_address, network.ip_version)
    keys, keys_found = _keys_summary(addresses)
    findings = route.findings + client_found + address_found + keys_found + _budget_findings(budget)
    if route.targets and addresses and not any(res['ok'] for res in addresses) \
            and not any(f.level == ERROR for f in findings):
        findings.append(Finding('no_usable_address', 'No address passed the checks.'))
    fallback_seen = None if fallback is None else RouteSeen(targets=_targets_seen(fallback.targets, fallback_addresses))
    ok, reachability = _verdict(name.raw, implementations, _route_seen(route, per_address, findings, fallback_seen),
                                findings)
    return {
        'server_name': name.raw,
        'step': route.step,
        'route': route.text() if route.step else None,
        'host_header': route.host_header,
        'tls_server_name': route.tls_name,
        'sni': route.sni,
        'delegated_server_name': route.delegated.raw if route.delegated is not None else None,
        'well_known': route.well_known.record,
        'srv': route.srv,
        'targets': [t.as_dict() for t in route.targets],
        'unchecked_targets': ['%s:%d' % (t.host, t.port) for t in route.unchecked_targets],
        'addresses': addresses,
        'keys': keys,
        'version': _first_version(addresses),
        'client': client,
        'checks': list(checks),
        'errors': [f.as_dict() for f in findings if f.level == ERROR],
        'warnings': [f.as_dict() for f in findings if f.level == WARNING],
        'notes': [f.as_dict() for f in findings if f.level == INFO],
        'federation_ok': ok,
        'implementations': list(implementations),
        'reachable_from': dict((impl, reach.reachable) for impl, reach in reachability.items()),
        'reachability': dict((impl, reach.as_dict()) for impl, reach in reachability.items()),
        'fallback': None if fallback is None else {
            'targets': [t.as_dict() for t in fallback.targets],
            'addresses': [res for _t, (res, _f) in fallback_addresses]},
    }


def check_server(server_name, network, checks=OPTIONAL_CHECKS, workers=16, pool=None, implementations=IMPLEMENTATIONS):
    """Check one server name. Raises ServerNameError (before any traffic) for bad input.

    implementations: whose failure to reach the server makes federation_ok false.
    pool: an executor for the leaf tasks (DNS lookups, one address's checks, the client check);
    they never wait for other tasks, so a pool shared by many checks cannot deadlock. Without
    one, a pool of `workers` threads is made for this check."""
    unknown = [c for c in checks if c not in OPTIONAL_CHECKS]
    if unknown:
        raise ValueError('unknown check group(s): %s' % ', '.join(unknown))
    unknown = [i for i in implementations if i not in IMPLEMENTATIONS]
    if unknown or not implementations:
        raise ValueError('implementations must be one or more of %s (got %s)' % (', '.join(IMPLEMENTATIONS),
                                                                                 ', '.join(implementations) or 'none'))
    name = parse_server_name(server_name)  # raises ServerNameError before any traffic
    start = time.monotonic()
    own_pool = pool is None
    if own_pool:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, int(workers)))
    try:
        out = _check(name, network, tuple(checks), tuple(implementations), pool)
    finally:
        if own_pool:
            pool.shutdown(wait=True)
    out['elapsed'] = round(time.monotonic() - start, 4)
    out['summary'] = build_summary(name.raw, out)
    return out


def input_error_result(server_name, exc):
    finding = Finding(exc.code, exc.message, suggestion=exc.suggestion or '')
    out = {'server_name': server_name, 'step': None, 'federation_ok': False, 'errors': [finding.as_dict()],
           'warnings': [], 'notes': []}
    out['summary'] = build_summary(str(server_name), out)
    return out


def check_many(server_names, network, checks=OPTIONAL_CHECKS, concurrency=16, workers=16, implementations=IMPLEMENTATIONS):
    """Check many server names; results in input order; bad names give an error result.

    concurrency names are checked at once. Each name has a pool of `workers` threads of its own
    for its DNS lookups and per-address checks, exactly as when it is checked alone: a pool shared
    by all names let one name's work wait behind another's (a healthy name checked beside hostile
    ones ran out of its step deadlines waiting for threads, and failed). So a name's verdict does
    not depend on the names checked with it.
    concurrency=1 with workers=1 checks everything strictly one step after another.
    """
    def one(name):
        try:
            return check_server(name, network, checks=checks, workers=workers, implementations=implementations)
        except ServerNameError as exc:
            return input_error_result(name, exc)

    if concurrency <= 1:
        return [one(name) for name in server_names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, server_names))
