# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Matrix server discovery as other homeservers perform it, checked from the outside.

Sources (cited by section, none copied):
- Matrix spec, server-server-api.md, "Resolving server names" (steps 1-6 and 3.1-3.5),
  "Server discovery" / "Retrieving server keys", appendices "Server Name", "Signing JSON".
- Synapse's client side: synapse/http/federation/matrix_federation_agent.py (step order, Host
  header and TLS name after delegation), well_known_resolver.py (redirects followed, 50 KiB cap,
  cache periods, any failure = "no delegation"), srv_resolver.py (a lone "." target means no
  service; SERVFAIL is an error, NXDOMAIN is "no records").

Step 3 (the well-known) is in _wellknown.py, the checks of one address in _probe.py, client
discovery in _client.py; this file resolves the route and joins the results.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import time

from ansible_collections.mxfed.federation.plugins.module_utils._client import check_client
from ansible_collections.mxfed.federation.plugins.module_utils._keys import keys_fingerprint
from ansible_collections.mxfed.federation.plugins.module_utils._probe import probe_address
from ansible_collections.mxfed.federation.plugins.module_utils._report import (
    ERROR,
    INFO,
    WARNING,
    Finding,
    Findings,
    build_summary,
)
from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    DEFAULT_FEDERATION_PORT,
    ServerNameError,
    parse_server_name,
)
from ansible_collections.mxfed.federation.plugins.module_utils._verdict import (
    CONNECTED,
    IMPLEMENTATIONS,
    POLICIES,
    AddressSeen,
    RouteSeen,
    TargetSeen,
    evaluate_all,
)
from ansible_collections.mxfed.federation.plugins.module_utils._wellknown import WELL_KNOWN_UNUSABLE, fetch_well_known

OPTIONAL_CHECKS = ('keys', 'version', 'client', 'proxy')
SRV_FED = '_matrix-fed._tcp.'
SRV_LEGACY = '_matrix._tcp.'


class Target(object):
    """A host:port to connect to, with where it came from (SRV record or default)."""

    def __init__(self, host, port, srv=None, priority=None, weight=None):
        self.host = host
        self.port = port
        self.srv = srv
        self.priority = priority
        self.weight = weight
        self.addresses = []  # list of (ip, family) with family 4 / 6
        self.dns = []

    def as_dict(self):
        return {
            'host': self.host,
            'port': self.port,
            'srv': self.srv,
            'priority': self.priority,
            'weight': self.weight,
            'addresses': [ip for ip, _family in self.addresses],
            'dns': [answer.as_dict() for answer in self.dns],
        }


def _join_labels(names):
    labels = [POLICIES[name].label for name in names]
    return labels[0] if len(labels) == 1 else '%s and %s' % (', '.join(labels[:-1]), labels[-1])


class DelegationCheck(object):
    """One check of one server name. Use check_server(); this class holds the state."""

    def __init__(self, server_name, network, checks=OPTIONAL_CHECKS, workers=16, pool=None,
                 implementations=IMPLEMENTATIONS):
        self.name = parse_server_name(server_name)  # raises ServerNameError before any traffic
        self.network = network
        self.checks = tuple(checks)
        self.implementations = tuple(implementations)
        self.workers = max(1, int(workers))
        # Leaf tasks (DNS lookups, one address's checks, the client check) run on this pool; they
        # never wait for other tasks, so a pool shared by many checks cannot deadlock.
        self.shared_pool = pool
        self.pool = None
        self.findings = Findings()
        self.step = None
        self.host_header = None
        self.tls_name = None
        self.sni = None
        self.delegated = None
        self.srv = []
        self.targets = []
        self.well_known = {'result': 'skipped'}
        self.client = None
        self.addresses = []
        self.keys = None
        self.version = None
        # Why resolution stopped (SRV "." or an SRV lookup failure), and whether it was a DNS
        # failure: some implementations then fall back to <name>:8448, which is checked too.
        self.srv_stop = None
        self.srv_failed = False
        self.fallback_targets = None
        self.fallback_addresses = []
        self.reachability = {}
        self.federation_ok = False

    # ---- helpers ------------------------------------------------------------------------
    def _dns_problem(self, answer, step, findings=None):
        code = {'servfail': 'dns_servfail', 'timeout': 'dns_timeout', 'nxdomain': 'dns_nxdomain'}.get(answer.status, 'dns_error')
        text = {
            'servfail': 'DNS lookup of %s %s failed with SERVFAIL (%s); servers treat that as an error, not as "no record".',
            'timeout': 'DNS lookup of %s %s timed out (%s).',
            'nxdomain': 'DNS name %s does not exist (NXDOMAIN for %s)%s.',
        }.get(answer.status, 'DNS lookup of %s %s failed (%s).')
        (self.findings if findings is None else findings).add(
            code, text % (answer.name, answer.rdtype, answer.error or ''), step=step, name=answer.name)

    def _resolve_addresses(self, targets, step, srv_step, findings=None):
        """A/AAAA for every target, concurrently; flag SRV targets that are CNAMEs.

        findings: where problems go (default: the report)."""
        findings = self.findings if findings is None else findings
        jobs = [(target, rdtype) for target in targets for rdtype in self.network.address_types()]
        answers_all = self.network.lookup_many([(target.host, rdtype) for target, rdtype in jobs])
        for target in targets:
            answers = [(rdtype, answer) for (t, rdtype), answer in zip(jobs, answers_all) if t is target]
            target.dns = [a for _r, a in answers]
            for rdtype, answer in answers:
                family = 4 if rdtype == 'A' else 6
                target.addresses.extend((rec['address'], family) for rec in answer.records)
                if srv_step and answer.is_cname and answer.records:
                    findings.add('srv_target_cname', 'SRV target %s is an alias (CNAME) for %s.'
                                 % (target.host, answer.canonical_name), step=step, canonical=answer.canonical_name)
            failed = [a for _r, a in answers if a.status in ('servfail', 'timeout', 'error')]
            if not target.addresses:
                if failed:
                    self._dns_problem(failed[0], step, findings)
                elif any(a.status == 'nxdomain' for _r, a in answers):
                    findings.add('dns_nxdomain', 'The host %s does not exist in DNS (NXDOMAIN).' % target.host,
                                 step=step, name=target.host)
                else:
                    findings.add('no_address', 'The host %s has no %s record.' % (
                        target.host, '/'.join(self.network.address_types())), step=step, name=target.host)
            elif failed:
                findings.add('dns_partial_failure', '%s lookup of %s failed (%s) while other records resolve.'
                             % (failed[0].rdtype, target.host, failed[0].status), step=step,
                             name=target.host, detail='%s %s' % (failed[0].rdtype, failed[0].status))
            # Keep the order other servers use: IPv6 first is what happy-eyeballs prefers, but we
            # check every address anyway, so order only affects the report. Sort for stability.
            target.addresses.sort(key=lambda item: (item[1], item[0]))

    def _srv_records(self, host, fed, legacy, used_by, steps):
        """Apply steps 3.3/3.4/3.5 (or 4/5/6) to the answers for _matrix-fed and _matrix on host.

        Returns (step, targets or None when discovery stops with an error).
        """
        entries = []
        for answer, deprecated in ((fed, False), (legacy, True)):
            entries.append({
                'name': answer.name,
                'status': answer.status,
                'records': answer.records,
                'error': answer.error,
                'deprecated': deprecated,
                'queried_for': used_by,
                'used': False,
                'shadowed': False,
            })
        self.srv.extend(entries)
        fed_entry, legacy_entry = entries
        # Synapse srv_resolver: NXDOMAIN = no records; any other DNS failure is raised and the
        # request fails (no fallback to A/AAAA). _matrix._tcp is only looked at when
        # _matrix-fed._tcp has nothing (spec "Resolving server names" step 3.4 / 5).
        for answer, entry, step in ((fed, fed_entry, steps[0]), (legacy, legacy_entry, steps[1])):
            if answer.status in ('servfail', 'timeout', 'error'):
                self._dns_problem(answer, step)
                self.srv_stop = 'the SRV lookup of %s failed (%s)' % (answer.name, answer.status)
                self.srv_failed = True
                return step, None
            if answer.status != 'ok':
                continue
            entry['used'] = True
            if answer is fed and legacy.status == 'ok':
                legacy_entry['shadowed'] = True
                self.findings.add('srv_shadowed', 'SRV %s exists but is ignored because %s exists.' % (legacy.name, fed.name),
                                  step=step, name=legacy.name)
            if answer is legacy:
                self.findings.add('srv_deprecated', 'Only the deprecated SRV record %s exists.' % legacy.name, step=step,
                                  name=legacy.name, new_name=fed.name)
            records = answer.records
            if all(r['target'] in ('.', '') for r in records):
                self.findings.add('srv_no_service', 'SRV %s has the target "." which means "no federation service here"; '
                                  'other servers give up.' % answer.name, step=step, name=answer.name)
                self.srv_stop = 'SRV %s says "no federation service here" (target ".")' % answer.name
                return step, None
            ordered = sorted((r for r in records if r['target'] not in ('.', '')),
                             key=lambda r: (r['priority'], -r['weight'], r['target'], r['port']))
            return step, [Target(r['target'].rstrip('.'), r['port'], srv=answer.name, priority=r['priority'], weight=r['weight'])
                          for r in ordered]
        return steps[2], [Target(host, DEFAULT_FEDERATION_PORT)]

    # ---- the algorithm --------------------------------------------------------------------
    def _resolve_direct(self, name, ip_step, port_step):
        """Rows 1/2 (the server name) and 3.1/3.2 (the delegated name): an IP literal is connected
        to as is, certificate for the IP and no SNI; a DNS name with an explicit port gets its
        A/AAAA records, SNI and certificate for the host. Host header = the name as given.
        Returns False when neither applies."""
        if name.is_ip:
            self.step = ip_step
            self.host_header = name.raw
            self.tls_name = name.host
            self.sni = None
            target = Target(name.host, name.port or DEFAULT_FEDERATION_PORT)
            target.addresses = [(name.host, name.ip_version)]
            self.targets = [target]
            return True
        if name.port is not None:
            self.step = port_step
            self.host_header = name.raw
            self.tls_name = self.sni = name.host
            self.targets = [Target(name.host, name.port)]
            self._resolve_addresses(self.targets, port_step, False)
            return True
        return False

    def resolve(self, pool):
        name = self.name
        # Steps 1 and 2: an IP literal or an explicit port: no well-known, no SRV (the reference
        # tester fetches the well-known anyway).
        if self._resolve_direct(name, '1', '2'):
            return
        host = name.host
        # Start the SRV lookups of steps 4/5 while the well-known is fetched: they are needed
        # when it fails and recorded (as ignored) when it succeeds. Costs no wall time.
        srv_pair = pool.submit(self.network.lookup_many, [(SRV_FED + host, 'SRV'), (SRV_LEGACY + host, 'SRV')])
        self.well_known, delegated = self.fetch_well_known()
        if delegated is None:
            # Steps 4/5/6: any well-known failure means "no delegation" (Synapse
            # well_known_resolver returns None, the agent goes on with SRV on the server name).
            self.host_header = self.tls_name = self.sni = host
            fed, legacy = srv_pair.result()
            step, targets = self._srv_records(host, fed, legacy, 'server_name', ('4', '5', '6'))
            self.step = step
            if targets is None:
                return
            self.targets = targets
            self._resolve_addresses(targets, step, step in ('4', '5'))
            return
        self.delegated = delegated
        # 3.1 and 3.2: m.server is an IP literal or has a port: the same rules as steps 1 and 2,
        # applied to the delegated name (Host header = m.server as given).
        if not self._resolve_direct(delegated, '3.1', '3.2'):
            # 3.3-3.5: SRV on the *delegated* name; Host header and certificate name stay the
            # delegated host, never the SRV target (matrix_federation_agent: the TLS name is
            # the parsed server name, SRV only changes where we connect).
            self.host_header = self.tls_name = self.sni = delegated.host
            if delegated.host.lower() == host.lower():
                dfed, dlegacy = srv_pair.result()
            else:
                dfed, dlegacy = self.network.lookup_many([(SRV_FED + delegated.host, 'SRV'), (SRV_LEGACY + delegated.host, 'SRV')])
            step, targets = self._srv_records(delegated.host, dfed, dlegacy, 'delegated', ('3.3', '3.4', '3.5'))
            self.step = step
            if targets is not None:
                self.targets = targets
                self._resolve_addresses(targets, step, step in ('3.3', '3.4'))
        if delegated.host.lower() != host.lower():
            # Record the server name's own SRV records: shadowed by the well-known delegation.
            for answer, deprecated in zip(srv_pair.result(), (False, True)):
                self.srv.append({'name': answer.name, 'status': answer.status, 'records': answer.records,
                                 'error': answer.error, 'deprecated': deprecated, 'queried_for': 'server_name',
                                 'used': False, 'shadowed': answer.status == 'ok'})
                if answer.status == 'ok':
                    self.findings.add('srv_ignored_delegated', 'SRV %s exists but the well-known delegation takes precedence.'
                                      % answer.name, step=self.step, name=answer.name)

    # ---- the pieces that now live in their own files -------------------------------------
    def fetch_well_known(self):
        """Returns (record dict, delegated ServerName or None). Failures fall through to step 4."""
        well_known = fetch_well_known(self.network, self.name, self.pool)
        self.findings.items.extend(well_known.findings)
        return well_known.record, well_known.delegated

    def check_address(self, target, ip, family):
        """Connect, verify TLS, fetch keys/version, probe the proxy. Returns (dict, [Finding])."""
        return probe_address(self.network, self, self.name.raw, self.checks, target, ip, family)

    # ---- orchestration ---------------------------------------------------------------------
    def run(self):
        start = time.monotonic()
        pool = self.shared_pool or concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
        self.pool = pool
        try:
            client_future = pool.submit(check_client, self.network, self.name) if 'client' in self.checks else None
            self.resolve(pool)
            jobs = []
            for target in self.targets:
                for ip, family in target.addresses:
                    jobs.append((target, ip, family, pool.submit(self.check_address, target, ip, family)))
            per_address = [(target, fut.result()) for target, _ip, _family, fut in jobs]
            if self.srv_failed:
                self._check_fallback(pool)
            if client_future is not None:
                self.client, client_found = client_future.result()
                self.findings.items.extend(client_found)
        finally:
            if self.shared_pool is None:
                pool.shutdown(wait=True)
        self._finish(per_address)
        elapsed = time.monotonic() - start
        return self.result(elapsed)

    def _check_fallback(self, pool):
        """After an SRV lookup failure Synapse fails the request, but Dendrite and Conduit go on
        to <name>:8448: check that route too, quietly (it is not the spec's route; the verdict
        cites what it found)."""
        quiet = Findings()
        self.fallback_targets = [Target(self.tls_name, DEFAULT_FEDERATION_PORT)]
        self._resolve_addresses(self.fallback_targets, self.step, False, findings=quiet)
        jobs = [(target, pool.submit(self.check_address, target, ip, family))
                for target in self.fallback_targets for ip, family in target.addresses]
        self.fallback_addresses = [(target, fut.result()) for target, fut in jobs]

    def _route_seen(self, per_address, targets=None, fallback=None):
        """What peers walk: the targets in order, each address as the check saw it."""
        results = {}
        for target, (res, found) in per_address:
            problems = [f.message for f in found if f.level == ERROR]
            results[(id(target), res['address'])] = AddressSeen(
                res['address'], res['tcp'] if res['tcp'] in ('refused', 'timeout', 'unreachable') else CONNECTED,
                res['ok'], problem=problems[0] if problems else res.get('error'),
                seconds=res['timings'].get('connect_tls', 0.0), hangs=bool(res.get('hung')))
        seen = []
        for target in self.targets if targets is None else targets:
            dns_problem = ', '.join('%s %s' % (a.rdtype, a.status) for a in target.dns if a.status != 'ok') or None
            seen.append(TargetSeen(target.host, target.port, [results[(id(target), ip)] for ip, _f in target.addresses
                                                              if (id(target), ip) in results],
                                   srv=target.srv, priority=target.priority, dns_problem=dns_problem))
        if targets is not None:
            return RouteSeen(targets=seen)
        wk = self.well_known.get('result')
        if wk in ('delegated', 'skipped', 'timeout', 'invalid_m_server'):
            state = wk
        else:
            state = 'none'
        problem = self.well_known.get('error') or self.well_known.get('m_server')
        if wk == 'invalid_m_server':
            problem = repr(self.well_known.get('m_server'))
        stopped = self.srv_stop is not None and not self.targets
        split = '; '.join(f.message for f in self.findings.items if f.code in ('well_known_inconsistent', 'keys_differ'))
        return RouteSeen(well_known=state, well_known_problem=problem, targets=None if stopped else seen,
                         srv_stop=self.srv_stop, srv_failed=self.srv_failed, fallback=fallback,
                         well_known_seconds=self.well_known.get('seconds') or 0.0, split=split or None)

    def _verdict(self, per_address):
        fallback = None
        if self.fallback_targets is not None:
            fallback = self._route_seen(self.fallback_addresses, targets=self.fallback_targets)
        route = self._route_seen(per_address, fallback=fallback)
        self.reachability = evaluate_all(route)
        ok = all(self.reachability[name].reachable for name in self.implementations)
        failing = [name for name in self.implementations if not self.reachability[name].reachable]
        for finding in self.findings.items:
            if ok and finding.level == ERROR:
                # Peers skip past it today; it stays in the report as the risk it is.
                finding.demote('Peers reach the server another way today (%s), so this is a risk, not a failure.'
                               % self.reachability[self.implementations[0]].address)
            elif not ok and finding.code in WELL_KNOWN_UNUSABLE:
                # The fallback failed too: now the broken well-known is the cause to name.
                finding.promote()
        # One line per distinct reason, naming every implementation it stops; the cause first,
        # then the evidence.
        causes, others = [], []
        for name in IMPLEMENTATIONS:
            reach = self.reachability[name]
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
                text = '%s would not reach %s: %s.' % (labels, self.name.raw, reason)
                unmeasured = [POLICIES[n].label for n in names if not POLICIES[n].measured]
                if unmeasured:
                    text += ' (%s: modelled from the source, not measured.)' % ', '.join(unmeasured)
                lines.append(Finding(code, text, implementation=labels))
        self.findings.items[:0] = lines
        return ok

    def _finish(self, per_address):
        # AAAA without an IPv6 listener while IPv4 works: a warning, not an error (servers fall
        # back to IPv4 after a delay), per DISCOVERY.md point 5.
        ok_v4_targets = set(id(t) for t, (res, _f) in per_address if res['family'] == 4 and res['ok'])
        for target, (res, found) in per_address:
            if res['family'] == 6 and id(target) in ok_v4_targets and self.network.ip_version == 'any':
                found = [Finding('ipv6_not_listening', 'IPv6 address %s of %s does not answer on port %d while IPv4 works (%s).'
                                 % (res['address'], target.host, target.port, res['error']), address=f.address,
                                 ip=res['address'], port=target.port, name=target.host)
                         if f.code == 'tcp_connect_failed' else f for f in found]
            self.findings.items.extend(found)
            self.addresses.append(res)
        if any(t.port == 443 for t in self.targets):
            self.findings.add('federation_port_443', 'Federation is served on port 443, shared with clients and web '
                              'traffic (%s).' % ', '.join('%s:%d' % (t.host, t.port) for t in self.targets if t.port == 443),
                              step=self.step)
        # Only addresses a peer would accept (verified TLS for the right name) hand out keys that count.
        with_keys = [res for res in self.addresses if isinstance(res.get('keys'), dict) and res['keys'].get('verify_keys')
                     and (res.get('tls') or {}).get('verified') and (res.get('certificate') or {}).get('name_ok')]
        if with_keys:
            prints = {}
            for res in with_keys:
                prints.setdefault(keys_fingerprint(res['keys']), []).append(res['address'])
            first = with_keys[0]['keys']
            self.keys = {'server_name': first.get('server_name'), 'verify_keys': first.get('verify_keys'),
                         'valid_until_ts': first.get('valid_until_ts'), 'consistent': len(prints) == 1,
                         'variants': len(prints)}
            if len(prints) > 1:
                self.findings.add('keys_differ', 'Addresses serve different keys: %s.' % '; '.join(
                    '%s -> %s' % (', '.join(ips), fp) for fp, ips in prints.items()), step='keys')
        for res in self.addresses:
            if res.get('version') and res['version'].get('name'):
                self.version = res['version']
                break
        if self.targets and self.addresses and not any(res['ok'] for res in self.addresses) \
                and not any(f.level == ERROR for f in self.findings.items):
            self.findings.add('no_usable_address', 'No address passed the checks.')
        self.federation_ok = self._verdict(per_address)

    def route_text(self):
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

    def result(self, elapsed=None):
        errors = [f.as_dict() for f in self.findings.items if f.level == ERROR]
        warnings = [f.as_dict() for f in self.findings.items if f.level == WARNING]
        notes = [f.as_dict() for f in self.findings.items if f.level == INFO]
        out = {
            'server_name': self.name.raw,
            'step': self.step,
            'route': self.route_text() if self.step else None,
            'host_header': self.host_header,
            'tls_server_name': self.tls_name,
            'sni': self.sni,
            'delegated_server_name': self.delegated.raw if self.delegated is not None else None,
            'well_known': self.well_known,
            'srv': self.srv,
            'targets': [t.as_dict() for t in self.targets],
            'addresses': self.addresses,
            'keys': self.keys,
            'version': self.version,
            'client': self.client,
            'checks': list(self.checks),
            'errors': errors,
            'warnings': warnings,
            'notes': notes,
            'federation_ok': self.federation_ok,
            'implementations': list(self.implementations),
            'reachable_from': dict((name, reach.reachable) for name, reach in self.reachability.items()),
            'reachability': dict((name, reach.as_dict()) for name, reach in self.reachability.items()),
            'fallback': None if self.fallback_targets is None else {
                'targets': [t.as_dict() for t in self.fallback_targets],
                'addresses': [res for _t, (res, _f) in self.fallback_addresses]},
            'elapsed': round(elapsed, 4) if elapsed is not None else None,
        }
        out['summary'] = build_summary(self.name.raw, out)
        return out


def check_server(server_name, network, checks=OPTIONAL_CHECKS, workers=16, pool=None, implementations=IMPLEMENTATIONS):
    """Check one server name. Raises ServerNameError (before any traffic) for bad input.

    implementations: whose failure to reach the server makes federation_ok false."""
    unknown = [c for c in checks if c not in OPTIONAL_CHECKS]
    if unknown:
        raise ValueError('unknown check group(s): %s' % ', '.join(unknown))
    unknown = [i for i in implementations if i not in IMPLEMENTATIONS]
    if unknown or not implementations:
        raise ValueError('implementations must be one or more of %s (got %s)' % (', '.join(IMPLEMENTATIONS),
                                                                                 ', '.join(implementations) or 'none'))
    return DelegationCheck(server_name, network, checks=checks, workers=workers, pool=pool,
                           implementations=implementations).run()


def input_error_result(server_name, exc):
    finding = Finding(exc.code, exc.message, suggestion=exc.suggestion or '')
    out = {'server_name': server_name, 'step': None, 'federation_ok': False, 'errors': [finding.as_dict()],
           'warnings': [], 'notes': []}
    out['summary'] = build_summary(str(server_name), out)
    return out


def check_many(server_names, network, checks=OPTIONAL_CHECKS, concurrency=32, workers=16, implementations=IMPLEMENTATIONS):
    """Check many server names; results in input order; bad names give an error result.

    concurrency names are checked at once; their DNS lookups and per-address checks share one
    pool of concurrency * 4 threads (threads are reused, which matters under the GIL).
    concurrency=1 with workers=1 checks everything strictly one step after another.
    """
    def one(name, pool=None):
        try:
            return check_server(name, network, checks=checks, workers=workers, pool=pool, implementations=implementations)
        except ServerNameError as exc:
            return input_error_result(name, exc)

    if concurrency <= 1:
        return [one(name) for name in server_names]
    leaf_pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(4, concurrency * 4))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda name: one(name, leaf_pool), server_names))
    finally:
        leaf_pool.shutdown(wait=True)
