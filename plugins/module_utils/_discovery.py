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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import email.utils
import json
import os
import time
from urllib.parse import urljoin, urlsplit

from ansible_collections.mxfed.federation.plugins.module_utils._keys import (
    check_key_response,
    keys_fingerprint,
)
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
    ip_literal_version,
    parse_server_name,
)
from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectError,
    DnsError,
    InsecureUrlError,
    RedirectError,
    TimeoutTransportError,
    TlsError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession
from ansible_collections.mxfed.federation.plugins.module_utils._verdict import (
    CONNECTED,
    IMPLEMENTATIONS,
    POLICIES,
    AddressSeen,
    RouteSeen,
    TargetSeen,
    evaluate_all,
)
from ansible_collections.mxfed.federation.plugins.module_utils._x509 import (
    X509_V_ERR_CERT_HAS_EXPIRED,
    X509_V_ERR_CERT_NOT_YET_VALID,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    cert_seconds_left,
    describe_certificate,
    is_self_issued,
    match_certificate_name,
)

OPTIONAL_CHECKS = ('keys', 'version', 'client', 'proxy')
WELL_KNOWN_PATH = '/.well-known/matrix/server'
CLIENT_WELL_KNOWN_PATH = '/.well-known/matrix/client'
WELL_KNOWN_MAX_SIZE = 50 * 1024  # Synapse well_known_resolver: WELL_KNOWN_MAX_SIZE
# Statuses a reverse proxy sends itself when its upstream does not answer.
BACKEND_DOWN_STATUSES = (502, 503, 504)


def _homeserver_error(doc):
    """Whether a JSON error body came from a homeserver rather than from a proxy in front of it.

    Synapse and Conduit answer with the spec's {"errcode", "error"}; Dendrite 0.13 answers an
    unauthenticated federation request with {"message": "Missing \"Authorization: X-Matrix ...\"
    HTTP header"} and no errcode. Proxies answer with HTML or an empty body.
    """
    return isinstance(doc, dict) and any(key in doc for key in ('errcode', 'error', 'message'))


MAX_REDIRECTS = 10
# A well-known that was served but is unusable: peers skip it and go on to step 4 (spec: "If the
# response is invalid ... skip to step 4"), so it is a warning while the fallback works and the
# cause to name when the fallback fails too.
WELL_KNOWN_UNUSABLE = ('well_known_status', 'well_known_too_large', 'well_known_invalid_json', 'well_known_not_object',
                       'well_known_missing_m_server', 'well_known_redirect_loop', 'well_known_redirect_limit',
                       'well_known_redirect_insecure', 'well_known_tls', 'well_known_timeout')
CACHE_DEFAULT = 24 * 3600  # spec: "default 24 hours"; Synapse adds +-10% jitter
CACHE_MIN = 5 * 60  # Synapse clamps header values to 5 min .. 48 h
CACHE_MAX = 48 * 3600
CERT_WARN_SECONDS = 14 * 24 * 3600
PROXY_BODY_SIZE = 1024 * 1024 + 64 * 1024  # just above nginx's default client_max_body_size (1m)
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


def _redirect_location(response, url):
    location = response.header('Location')
    return urljoin(url, location) if location else None


def _host_header_for(host, port, default_port):
    shown = '[%s]' % host if ip_literal_version(host) == 6 else host
    return shown if port == default_port else '%s:%d' % (shown, port)


def cache_period_from_headers(headers_get, now=None):
    """Seconds a well-known answer may be cached by the headers, or None when they say nothing.

    Mirrors the spec ("honour Cache-Control/Expires") the way Synapse well_known_resolver reads
    them (_cache_period_from_headers): no-store means 0, then max-age, then Expires (invalid = 0).
    """
    cache_control = headers_get('Cache-Control')
    if cache_control:
        directives = {}
        for part in cache_control.split(','):
            name, _eq, value = part.strip().partition('=')
            directives[name.strip().lower()] = value.strip().strip('"')
        if 'no-store' in directives:
            return 0
        if 'max-age' in directives:
            try:
                return max(0, int(directives['max-age']))
            except ValueError:
                pass
    expires = headers_get('Expires')
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return 0
        if when is None:
            return 0
        return max(0, int(when.timestamp() - (now or time.time())))
    return None


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

    # ---- HTTPS fetch of a URL (well-known, client API) --------------------------------
    def _url_addresses(self, host):
        if ip_literal_version(host):
            return [host], []
        answers = self.network.lookup_many([(host, rdtype) for rdtype in self.network.address_types()])
        ips = [rec['address'] for answer in answers for rec in answer.records]
        return ips, answers

    def _get_once(self, url, limit, ips=None):
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or 443
        path = (parts.path or '/') + ('?' + parts.query if parts.query else '')
        answers = []
        if ips is None:
            ips, answers = self._url_addresses(host)
        if not ips:
            failed = [a for a in answers if a.status != 'nodata']
            raise DnsError('no address for %s (%s)' % (host, ', '.join('%s %s' % (a.rdtype, a.status) for a in answers) or 'no answer')
                           if failed or answers else 'no address for %s' % host)
        sni = None if ip_literal_version(host) else host
        last = None
        for ip in ips:
            try:
                sock, info = self.network.connect_tls(ip, port, sni)
            except TransportError as exc:
                if isinstance(exc, TlsError):
                    raise
                last = exc
                continue
            if sock is None:
                raise TlsError('certificate of %s (%s) not trusted: %s' % (host, ip, info.verify_message))
            if info.leaf is None or not match_certificate_name(info.leaf, host):
                sock.close()
                raise TlsError('certificate of %s (%s) is not valid for %s' % (host, ip, host))
            session = HttpSession(self.network, ip, port, sni, _host_header_for(host, port, 443), sock=sock)
            try:
                return session.request('GET', path, limit=limit), ip
            finally:
                session.close()
        raise last or ConnectError('no address of %s answered' % host)

    def _get_following(self, url, limit, max_redirects=MAX_REDIRECTS, first_ips=None):
        """GET with redirects followed and recorded. Returns (response or None, chain, problem).

        first_ips: addresses to use for the first request (default: resolve the URL's host)."""
        chain = []
        seen = set()
        current = url
        ips = first_ips
        while True:
            seen.add(current)
            response, ip = self._get_once(current, limit, ips)
            ips = None
            chain.append({'url': current, 'status': response.status, 'address': ip})
            if response.status in (301, 302, 303, 307, 308):
                nxt = _redirect_location(response, current)
                if not nxt:
                    return response, chain, None
                chain[-1]['location'] = nxt
                if nxt in seen:
                    return None, chain, ('loop', nxt)
                if len(chain) > max_redirects:
                    return None, chain, ('limit', nxt)
                if urlsplit(nxt).scheme != 'https':
                    return None, chain, ('insecure', nxt)
                current = nxt
                continue
            return response, chain, None

    # ---- step 3: well-known ---------------------------------------------------------------
    def fetch_well_known(self):
        """Returns (record dict, delegated ServerName or None). Failures fall through to step 4."""
        host = self.name.host
        url = 'https://%s%s' % (host, WELL_KNOWN_PATH)
        record = {'url': url, 'result': None, 'status': None, 'redirects': [], 'content_type': None,
                  'size': None, 'm_server': None, 'cache': None, 'error': None, 'seconds': None}
        add = self.findings.add
        started = time.monotonic()
        ips, answers = self._url_addresses(host)
        # Other servers pick one address of the server name each; the reference tester tries only
        # one. Ask every address (in parallel) and compare, when there is more than one.
        probes = [(ip, self.pool.submit(self._probe_well_known, url, ip)) for ip in ips] if len(ips) > 1 else []
        try:
            try:
                response, chain, problem = self._get_following(url, WELL_KNOWN_MAX_SIZE, first_ips=ips or None)
            finally:
                self._compare_well_known(record, probes, host)
        except TransportError as exc:
            record['error'] = exc.message
            record['seconds'] = round(time.monotonic() - started, 4)
            if isinstance(exc, TimeoutTransportError):
                # Peers wait for it too, and some never get to the fallback (the verdict says who).
                record['result'] = 'timeout'
                add('well_known_timeout', 'Fetching %s timed out: %s.' % (url, exc.message), step='3', host=host)
            elif isinstance(exc, TlsError):
                record['result'] = 'tls_error'
                add('well_known_tls', 'Fetching %s failed: %s; other servers ignore the well-known file.' % (url, exc.message),
                    step='3', host=host)
            else:
                record['result'] = 'unreachable'
                add('well_known_unreachable', 'No well-known file: %s.' % exc.message, step='3', host=host)
            return record, None
        record['seconds'] = round(time.monotonic() - started, 4)
        record['redirects'] = chain[:-1] if response is not None else chain
        if len(chain) > 1:
            hosts = set(urlsplit(hop['url']).hostname for hop in chain)
            add('well_known_redirect', '%s redirects (%s).' % (url, ' -> '.join('%s %s' % (h['status'], h['url']) for h in chain)),
                step='3', host=host)
            if len(hosts) > 1:
                add('well_known_redirect_cross_host', 'The well-known redirect leaves %s for %s.'
                    % (host, ', '.join(sorted(h for h in hosts if h != host))), step='3', host=host)
        if problem is not None:
            kind, where = problem
            record['result'] = 'redirect_' + kind
            code = {'loop': 'well_known_redirect_loop', 'limit': 'well_known_redirect_limit',
                    'insecure': 'well_known_redirect_insecure'}[kind]
            add(code, 'Redirects of %s %s at %s; other servers treat it as "no delegation".'
                % (url, {'loop': 'loop', 'limit': 'exceed %d' % MAX_REDIRECTS, 'insecure': 'leave HTTPS'}[kind], where),
                step='3', host=host)
            return record, None
        record['status'] = response.status
        record['content_type'] = response.content_type
        record['size'] = len(response.body)
        header_period = cache_period_from_headers(response.header)
        effective = CACHE_DEFAULT if header_period is None else min(max(header_period, CACHE_MIN), CACHE_MAX)
        record['cache'] = {'cache_control': response.header('Cache-Control'), 'expires': response.header('Expires'),
                           'header_seconds': header_period, 'effective_seconds': effective}
        if response.status != 200:
            if response.status == 404:
                record['result'] = 'absent'
                add('well_known_absent', '%s answers 404: no delegation by well-known.' % url, step='3', host=host)
            else:
                record['result'] = 'http_error'
                add('well_known_status', '%s answers HTTP %d; other servers treat that as "no delegation".' % (url, response.status),
                    step='3', host=host)
            return record, None
        if response.truncated:
            record['result'] = 'too_large'
            add('well_known_too_large', '%s is larger than %d bytes; other servers stop reading it.' % (url, WELL_KNOWN_MAX_SIZE),
                step='3', host=host)
            return record, None
        if header_period is not None and header_period < CACHE_MIN:
            add('well_known_cache_short', 'The well-known file may be cached for only %d s (Synapse uses at least %d s).'
                % (header_period, CACHE_MIN), step='3', host=host)
        if not response.is_json_type():
            # Spec: SHOULD be application/json; resolvers parse it anyway, so only warn.
            add('well_known_content_type', '%s is served as %r, not application/json.' % (url, response.content_type),
                step='3', host=host)
        try:
            doc = json.loads(response.body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as exc:
            record['result'] = 'invalid_json'
            add('well_known_invalid_json', '%s is not valid JSON (%s).' % (url, str(exc)[:120]), step='3', host=host)
            return record, None
        if not isinstance(doc, dict):
            record['result'] = 'invalid'
            add('well_known_not_object', '%s is JSON %s, not an object.' % (url, type(doc).__name__), step='3', host=host)
            return record, None
        if 'm.server' not in doc:
            record['result'] = 'invalid'
            add('well_known_missing_m_server', '%s has no "m.server" key (keys: %s).' % (url, ', '.join(sorted(doc)) or 'none'),
                step='3', host=host)
            return record, None
        value = doc['m.server']
        record['m_server'] = value
        if not isinstance(value, str):
            record['result'] = 'invalid'
            add('well_known_invalid_m_server', '"m.server" in %s is a %s, not a string.' % (url, type(value).__name__),
                step='3', host=host)
            return record, None
        try:
            delegated = parse_server_name(value)
        except ServerNameError as exc:
            # Unlike a broken file, a string that is not a server name is not skipped: Synapse
            # connects to it as given, Dendrite fails the resolution (resolve.go).
            record['result'] = 'invalid_m_server'
            add('well_known_invalid_m_server', '"m.server" %r in %s is not host[:port]: %s' % (value, url, exc.message),
                step='3', host=host)
            return record, None
        record['result'] = 'delegated'
        return record, delegated

    def _probe_well_known(self, url, ip):
        """What one address of the server name answers for the well-known (leaf task)."""
        try:
            response, _chain, problem = self._get_following(url, WELL_KNOWN_MAX_SIZE, first_ips=[ip])
        except TransportError as exc:
            return {'address': ip, 'answer': 'tls error' if isinstance(exc, TlsError) else 'unreachable', 'error': exc.message}
        if problem is not None:
            return {'address': ip, 'answer': 'redirect %s' % problem[0], 'error': None}
        m_server = None
        if response.status == 200 and not response.truncated:
            try:
                doc = json.loads(response.body.decode('utf-8'))
                m_server = doc.get('m.server') if isinstance(doc, dict) else None
            except (UnicodeDecodeError, ValueError):
                m_server = '(invalid JSON)'
        answer = 'HTTP %d' % response.status + (' m.server=%s' % m_server if m_server is not None else '')
        return {'address': ip, 'answer': answer, 'error': None}

    def _compare_well_known(self, record, probes, host):
        if not probes:
            return
        seen = [future.result() for _ip, future in probes]
        record['per_address'] = seen
        reachable = [p for p in seen if p['answer'] != 'unreachable']
        if len(set(p['answer'] for p in reachable)) > 1:
            self.findings.add('well_known_inconsistent', 'The addresses of %s answer differently: %s.' % (
                host, '; '.join('%s: %s' % (p['address'], p['answer']) for p in seen)), step='3', host=host)
        elif reachable and len(reachable) < len(seen):
            self.findings.add('well_known_address_unreachable', 'Some addresses of %s do not answer HTTPS: %s.' % (
                host, ', '.join(p['address'] for p in seen if p['answer'] == 'unreachable')), step='3', host=host)

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

    # ---- per address ----------------------------------------------------------------------
    def check_address(self, target, ip, family):
        """Connect, verify TLS, fetch keys/version, probe the proxy. Returns (dict, [Finding])."""
        where = '%s:%d' % ('[%s]' % ip if family == 6 else ip, target.port)
        found = []

        def add(code, message, **fmt):
            fmt.setdefault('ip', ip)
            fmt.setdefault('port', target.port)
            fmt.setdefault('name', self.tls_name)
            found.append(Finding(code, message, address=where, **fmt))

        result = {'address': ip, 'family': family, 'port': target.port, 'host': target.host, 'sni': self.sni,
                  'host_header': self.host_header, 'tcp': None, 'tls': None, 'certificate': None, 'keys': None,
                  'version': None, 'proxy': None, 'server_header': None, 'ok': False, 'error': None, 'timings': {}}
        start = time.monotonic()
        try:
            sock, info = self.network.connect_tls(ip, target.port, self.sni)
        except TransportError as exc:
            result['error'] = exc.message
            if isinstance(exc, TlsError) or (isinstance(exc, TimeoutTransportError) and not isinstance(exc, ConnectError)):
                result['tcp'] = 'ok'
                # Connected, then no answer: peers wait on this connection until their deadline.
                result['hung'] = isinstance(exc, TimeoutTransportError)
                add('tls_handshake_failed', exc.message)
            else:
                result['tcp'] = exc.kind
                add('tcp_connect_failed', exc.message)
            return result, found
        result['tcp'] = 'ok'
        result['timings']['connect_tls'] = round(time.monotonic() - start, 4)
        leaf = info.leaf
        result['tls'] = {'verified': info.verified, 'version': info.version, 'cipher': info.cipher,
                         'verify_error': info.verify_message, 'verify_code': info.verify_code,
                         'chain': info.chain_summary()}
        if leaf is not None:
            cert = describe_certificate(leaf)
            cert['expected_name'] = self.tls_name
            cert['name_ok'] = match_certificate_name(leaf, self.tls_name)
            cert['seconds_left'] = int(cert_seconds_left(leaf))
            result['certificate'] = cert
        if sock is None:
            self._explain_tls_failure(info, add)
            result['error'] = 'TLS verification failed: %s' % info.verify_message
            return result, found
        ok = True
        cert = result['certificate']
        if cert is None or not cert['name_ok']:
            ok = False
            names = ', '.join((cert or {}).get('dns_names', []) + (cert or {}).get('ip_addresses', [])) or 'none'
            add('tls_name_mismatch', 'The certificate on %s is not valid for %s (it names: %s).' % (where, self.tls_name, names))
        elif cert['seconds_left'] < CERT_WARN_SECONDS:
            add('tls_cert_expiring', 'The certificate on %s expires in %.1f days.' % (where, cert['seconds_left'] / 86400.0))

        session = HttpSession(self.network, ip, target.port, self.sni, self.host_header, sock=sock)
        try:
            if 'keys' in self.checks:
                ok = self._check_keys(session, result, add) and ok
            if 'version' in self.checks:
                self._check_version(session, result, add)
            # With the homeserver down, the proxy probes would only repeat the same 502.
            if 'proxy' in self.checks and not result.get('backend_unavailable'):
                self._check_proxy(session, result, add)
        finally:
            session.close()
        result['ok'] = ok
        result['timings']['total'] = round(time.monotonic() - start, 4)
        return result, found

    def _explain_tls_failure(self, info, add):
        code = info.verify_code
        leaf = info.leaf
        message = info.verify_message or 'verification failed'
        if code == X509_V_ERR_CERT_HAS_EXPIRED:
            add('tls_cert_expired', 'The certificate expired (%s): %s.' % (
                leaf and describe_certificate(leaf)['not_after'], message))
        elif code == X509_V_ERR_CERT_NOT_YET_VALID:
            add('tls_cert_not_yet_valid', 'The certificate is not valid yet: %s.' % message)
        elif code in (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) \
                and leaf is not None and not is_self_issued(leaf) and not info.sends_issuer_of_leaf():
            # OpenSSL found no issuer for the leaf: not among what the server sent, and not a
            # trusted root (else the chain would have verified). The intermediate is missing.
            add('tls_missing_intermediate', 'The server sends its certificate (issued by %s) without that '
                'intermediate CA certificate (%d certificate(s) sent): %s.'
                % (leaf.issuer.rfc4514_string(), len(info.chain), message))
        else:
            add('tls_untrusted', 'The certificate chain is not trusted: %s (chain sent: %s).' % (
                message, ' <- '.join(c.get('subject') or '?' for c in info.chain_summary()) or 'none'))

    def _note_server_header(self, response, result, add):
        server = response.header('Server')
        if server and result['server_header'] is None:
            result['server_header'] = server
        if (server and 'cloudflare' in server.lower()) or response.header('CF-RAY'):
            if not result.get('cloudflare'):
                result['cloudflare'] = True
                add('proxy_cloudflare', 'Responses on %s:%d come through Cloudflare (Server: %s, cf-ray: %s).'
                    % (result['address'], result['port'], server, response.header('CF-RAY')))

    def _check_keys(self, session, result, add):
        start = time.monotonic()
        try:
            response = session.request('GET', '/_matrix/key/v2/server', limit=WELL_KNOWN_MAX_SIZE * 4)
        except TransportError as exc:
            add('keys_request_failed', 'GET /_matrix/key/v2/server failed: %s.' % exc.message)
            result['keys'] = {'error': exc.message}
            result['hung'] = isinstance(exc, TimeoutTransportError)
            return False
        result['timings']['keys'] = round(time.monotonic() - start, 4)
        self._note_server_header(response, result, add)
        record = {'status': response.status, 'content_type': response.content_type}
        result['keys'] = record
        if response.status in BACKEND_DOWN_STATUSES:
            # A reverse proxy answers 502/503/504 itself when its upstream is down or unreachable:
            # the homeserver is not running, or the proxy points at the wrong address.
            add('backend_unavailable', 'GET /_matrix/key/v2/server answered HTTP %d from the proxy (Server: %s): the '
                'homeserver behind it did not answer.' % (response.status, response.header('Server') or 'unknown'),
                status=response.status)
            result['backend_unavailable'] = True
            return False
        if response.status != 200:
            add('keys_status', 'GET /_matrix/key/v2/server answered HTTP %d.' % response.status, status=response.status)
            return False
        if not response.is_json_type():
            add('keys_content_type', 'GET /_matrix/key/v2/server is served as %r, not application/json.' % response.content_type)
        try:
            doc = json.loads(response.body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as exc:
            add('keys_invalid_json', 'GET /_matrix/key/v2/server is not JSON (%s).' % str(exc)[:120])
            return False
        summary, problems = check_key_response(doc, self.name.raw)
        record.update(summary)
        ok = True
        for problem in problems:
            add(problem.code, problem.message, **problem.fmt)
            if Finding(problem.code, '').level == ERROR:
                ok = False
        record['ok'] = ok
        return ok

    def _get_json(self, session, method, path, body=None, headers=None):
        response = session.request(method, path, body=body, headers=headers)
        try:
            doc = json.loads(response.body.decode('utf-8')) if response.body else None
        except (UnicodeDecodeError, ValueError):
            doc = None
        return response, doc

    def _check_version(self, session, result, add):
        try:
            response, doc = self._get_json(session, 'GET', '/_matrix/federation/v1/version')
        except TransportError as exc:
            add('version_failed', 'GET /_matrix/federation/v1/version failed: %s.' % exc.message)
            return
        server = doc.get('server') if isinstance(doc, dict) else None
        if response.status != 200 or not isinstance(server, dict):
            add('version_failed', 'GET /_matrix/federation/v1/version answered HTTP %d without a "server" object.' % response.status)
            result['version'] = {'status': response.status}
            return
        result['version'] = {'status': response.status, 'name': server.get('name'), 'version': server.get('version')}

    def _check_proxy(self, session, result, add):
        """Spec-independent checks of the reverse proxy in front of the homeserver (DISCOVERY.md 6)."""
        record = {}
        result['proxy'] = record
        txn = 'mxfed-check-%s' % os.urandom(6).hex()
        padding = 'x' * PROXY_BODY_SIZE
        body = json.dumps({'origin': 'mxfed-check.invalid', 'origin_server_ts': 0, 'pdus': [], 'edus': [],
                           'mxfed_padding': padding}).encode('utf-8')
        try:
            response, doc = self._get_json(session, 'PUT', '/_matrix/federation/v1/send/%s' % txn, body=body,
                                           headers={'Content-Type': 'application/json'})
        except TransportError as exc:
            record['large_transaction'] = {'error': exc.message, 'ok': False}
            add('proxy_upload_closed', 'An unauthenticated %d-byte PUT /_matrix/federation/v1/send was cut off: %s.'
                % (len(body), exc.message))
        else:
            is_matrix = _homeserver_error(doc)
            ok = is_matrix and response.status in (400, 401, 403, 413)
            record['large_transaction'] = {'status': response.status, 'errcode': doc.get('errcode') if is_matrix else None,
                                           'body_size': len(body), 'ok': ok}
            if not ok:
                if response.status in (413,) + BACKEND_DOWN_STATUSES:
                    # nginx answers 413; Caddy 2.6's request_body max_size answers 502. The
                    # homeserver answered the small requests before, so it is the body's size.
                    add('proxy_body_limit', 'An unauthenticated %d-byte transaction got HTTP %d from the proxy, not '
                        'the homeserver\'s Matrix error: transactions larger than the proxy\'s body limit (large '
                        'events, many events at once) fail, small ones pass.' % (len(body), response.status))
                else:
                    add('proxy_nonmatrix_response', 'PUT /_matrix/federation/v1/send answered HTTP %d without a Matrix '
                        'error (expected 401 M_UNAUTHORIZED).' % response.status)
        # An event ID with "/" (room v3+ IDs are base64 and contain it) must reach the homeserver
        # still encoded; a decoding proxy turns the route into a 404/400 M_UNRECOGNIZED.
        path = '/_matrix/federation/v1/event/%24mxfed-check%2Fprobe%3Amxfed-check.invalid'
        try:
            response, doc = self._get_json(session, 'GET', path)
        except TransportError as exc:
            record['encoded_path'] = {'error': exc.message, 'ok': False}
            add('proxy_nonmatrix_response', 'GET %s failed: %s.' % (path, exc.message))
            return
        is_matrix = _homeserver_error(doc)
        ok = is_matrix and response.status in (401, 403)
        record['encoded_path'] = {'path': path, 'status': response.status, 'errcode': doc.get('errcode') if is_matrix else None,
                                  'ok': ok}
        if ok:
            return
        if is_matrix:
            add('proxy_path_mangled', 'GET %s reached the homeserver altered (HTTP %d %s): the proxy decodes %%2F.'
                % (path, response.status, doc.get('errcode')))
        else:
            add('proxy_nonmatrix_response', 'GET %s answered HTTP %d without a Matrix error: it did not reach the homeserver.'
                % (path, response.status))

    # ---- client discovery ------------------------------------------------------------------
    def check_client(self):
        host = self.name.host_for_url
        url = 'https://%s%s' % (host, CLIENT_WELL_KNOWN_PATH)
        record = {'url': url, 'status': None, 'cors': None, 'base_url': None, 'versions': None, 'versions_cors': None,
                  'redirects': []}
        found = []

        def add(code, message, **fmt):
            fmt.setdefault('host', self.name.host)
            found.append(Finding(code, message, **fmt))

        try:
            response, chain, problem = self._get_following(url, WELL_KNOWN_MAX_SIZE, max_redirects=5)
        except TransportError as exc:
            record['error'] = exc.message
            add('client_well_known_missing', 'Clients cannot fetch %s: %s.' % (url, exc.message))
            return record, found
        record['redirects'] = chain[:-1] if response is not None else chain
        if response is None or response.status != 200:
            record['status'] = response.status if response is not None else None
            add('client_well_known_missing', '%s answers %s.' % (
                url, ('HTTP %d' % response.status) if response is not None else 'with redirect problem %s' % (problem,)))
            return record, found
        record['status'] = 200
        record['cors'] = response.header('Access-Control-Allow-Origin')
        if record['cors'] != '*':
            add('client_cors_missing', '%s lacks "Access-Control-Allow-Origin: *" (got %r).' % (url, record['cors']), url=url)
        try:
            doc = json.loads(response.body.decode('utf-8'))
            base_url = doc['m.homeserver']['base_url']
            if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ('https', 'http'):
                raise ValueError('base_url is not a URL')
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            add('client_well_known_invalid', '%s has no usable m.homeserver.base_url (%s).' % (url, exc))
            return record, found
        record['base_url'] = base_url
        versions_url = base_url.rstrip('/') + '/_matrix/client/versions'
        try:
            if urlsplit(versions_url).scheme != 'https':
                raise InsecureUrlError('base_url is not https')
            vresponse, _chain, vproblem = self._get_following(versions_url, 1024 * 1024, max_redirects=5)
            if vresponse is None:
                raise RedirectError('redirect problem %s' % (vproblem,))
            vdoc = json.loads(vresponse.body.decode('utf-8'))
            if vresponse.status != 200 or not isinstance(vdoc, dict) or not isinstance(vdoc.get('versions'), list):
                raise ValueError('HTTP %d without a "versions" list' % vresponse.status)
        except (TransportError, ValueError, UnicodeDecodeError) as exc:
            add('client_versions_failed', '%s did not answer: %s.' % (versions_url, getattr(exc, 'message', exc)), url=versions_url)
            return record, found
        record['versions'] = vdoc.get('versions')
        record['versions_cors'] = vresponse.header('Access-Control-Allow-Origin')
        if record['versions_cors'] != '*':
            add('client_cors_missing', '%s lacks "Access-Control-Allow-Origin: *".' % versions_url, url=versions_url)
        return record, found

    # ---- orchestration ---------------------------------------------------------------------
    def run(self):
        start = time.monotonic()
        pool = self.shared_pool or concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
        self.pool = pool
        try:
            client_future = pool.submit(self.check_client) if 'client' in self.checks else None
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
