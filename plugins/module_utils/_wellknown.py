# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Step 3 of "Resolving server names": fetch and read https://<name>/.well-known/matrix/server.

Sources (cited, none copied): Matrix spec server-server-api.md "Resolving server names" step 3
("If the response is invalid ... skip to step 4"); Synapse well_known_resolver.py (redirects
followed, 50 KiB cap, cache period from Cache-Control/Expires clamped to 5 min .. 48 h, any
failure = "no delegation").

fetch_well_known() returns a WellKnown value: the record the report shows as `well_known`, the
delegated server name (None: no delegation, go on to step 4) and the findings, in order.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import time
from urllib.parse import urlsplit

from ansible_collections.mxfed.federation.plugins.module_utils._budget import MAX_ADDRESSES, cap_addresses
from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectTimeoutError,
    TimeoutTransportError,
    TlsError,
    TlsTimeoutError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._fetch import (
    MAX_REDIRECTS,
    get_following,
    url_addresses,
)
from ansible_collections.mxfed.federation.plugins.module_utils._json import loads as json_loads
from ansible_collections.mxfed.federation.plugins.module_utils._report import Finding
from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    ServerNameError,
    parse_server_name,
)

WELL_KNOWN_PATH = '/.well-known/matrix/server'
WELL_KNOWN_MAX_SIZE = 50 * 1024  # Synapse well_known_resolver: WELL_KNOWN_MAX_SIZE
# A well-known that was served but is unusable: peers skip it and go on to step 4 (spec: "If the
# response is invalid ... skip to step 4"), so it is a warning while the fallback works and the
# cause to name when the fallback fails too.
WELL_KNOWN_UNUSABLE = ('well_known_status', 'well_known_too_large', 'well_known_invalid_json', 'well_known_not_object',
                       'well_known_missing_m_server', 'well_known_redirect_loop', 'well_known_redirect_limit',
                       'well_known_redirect_insecure', 'well_known_redirect_invalid', 'well_known_tls', 'well_known_timeout')
CACHE_DEFAULT = 24 * 3600  # spec: "default 24 hours"; Synapse adds +-10% jitter
CACHE_MIN = 5 * 60  # Synapse clamps header values to 5 min .. 48 h
CACHE_MAX = 48 * 3600


class WellKnown(object):
    """What step 3 found.

    record: the dict reported as `well_known` (url, result, status, redirects, content_type,
    size, m_server, cache, error, seconds[, per_address]); result is one of skipped, delegated,
    absent, http_error, too_large, invalid_json, invalid, invalid_m_server, redirect_loop,
    redirect_limit, redirect_insecure, timeout, tls_error, unreachable.
    delegated: the ServerName from m.server, or None (no delegation: steps 4-6 follow).
    findings: [Finding] in the order they were raised.
    """

    def __init__(self, record, delegated=None, findings=(), answers=None):
        self.record = record
        self.delegated = delegated
        self.findings = list(findings)
        # The DnsAnswers of the server name's A/AAAA (None when not looked up): steps 6 and
        # the port-8448 fallback use them instead of asking again.
        self.answers = answers

    @classmethod
    def skipped(cls):
        """Steps 1 and 2: an IP literal or an explicit port is never delegated."""
        return cls({'result': 'skipped'})

    @property
    def result(self):
        return self.record.get('result')

    @property
    def timed_out(self):
        return self.result == 'timeout'

    @property
    def timeout_phase(self):
        """'connect', 'tls' or 'response' when the fetch timed out, else None."""
        return self.record.get('timeout_phase')

    @property
    def m_server(self):
        """m.server as served (any JSON type), or None."""
        return self.record.get('m_server')

    @property
    def error(self):
        """The transport error's sentence when the fetch failed, else None."""
        return self.record.get('error')

    @property
    def seconds(self):
        """How long the fetch took (0.0 when skipped)."""
        return self.record.get('seconds') or 0.0


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


def effective_cache_period(header_period):
    """How long Synapse keeps the answer: the header period clamped, else the default."""
    return CACHE_DEFAULT if header_period is None else min(max(header_period, CACHE_MIN), CACHE_MAX)


def _finding(code, message, host):
    return Finding(code, message, step='3', host=host)


def read_well_known(url, host, response):
    """Judge a final (non-redirect) answer for url. Returns (fields, delegated, findings).

    fields: what goes into the record (status, content_type, size, cache, result, m_server).
    delegated: the ServerName from m.server, or None."""
    found = []
    fields = {'status': response.status, 'content_type': response.content_type, 'size': len(response.body)}
    header_period = cache_period_from_headers(response.header)
    fields['cache'] = {'cache_control': response.header('Cache-Control'), 'expires': response.header('Expires'),
                       'header_seconds': header_period, 'effective_seconds': effective_cache_period(header_period)}

    def stop(result, code, message):
        fields['result'] = result
        found.append(_finding(code, message, host))
        return fields, None, found

    if response.status != 200:
        if response.status == 404:
            return stop('absent', 'well_known_absent', '%s answers 404: no delegation by well-known.' % url)
        return stop('http_error', 'well_known_status',
                    '%s answers HTTP %d; other servers treat that as "no delegation".' % (url, response.status))
    if response.truncated:
        return stop('too_large', 'well_known_too_large',
                    '%s is larger than %d bytes; other servers stop reading it.' % (url, WELL_KNOWN_MAX_SIZE))
    if header_period is not None and header_period < CACHE_MIN:
        found.append(_finding('well_known_cache_short', 'The well-known file may be cached for only %d s (Synapse uses '
                              'at least %d s).' % (header_period, CACHE_MIN), host))
    if not response.is_json_type():
        # Spec: SHOULD be application/json; resolvers parse it anyway, so only warn.
        found.append(_finding('well_known_content_type', '%s is served as %r, not application/json.'
                              % (url, response.content_type), host))
    try:
        doc = json_loads(response.body)
    except ValueError as exc:  # _json.JsonError: not UTF-8, too deep, numbers out of range, invalid
        return stop('invalid_json', 'well_known_invalid_json', '%s is not valid JSON (%s).' % (url, str(exc)[:120]))
    if not isinstance(doc, dict):
        return stop('invalid', 'well_known_not_object', '%s is JSON %s, not an object.' % (url, type(doc).__name__))
    if 'm.server' not in doc:
        return stop('invalid', 'well_known_missing_m_server',
                    '%s has no "m.server" key (keys: %s).' % (url, ', '.join(sorted(doc)) or 'none'))
    value = doc['m.server']
    fields['m_server'] = value
    if not isinstance(value, str):
        return stop('invalid', 'well_known_invalid_m_server',
                    '"m.server" in %s is a %s, not a string.' % (url, type(value).__name__))
    try:
        delegated = parse_server_name(value)
    except ServerNameError as exc:
        # Unlike a broken file, a string that is not a server name is not skipped: Synapse
        # connects to it as given, Dendrite fails the resolution (resolve.go).
        return stop('invalid_m_server', 'well_known_invalid_m_server',
                    '"m.server" %r in %s is not host[:port]: %s' % (value, url, exc.message))
    fields['result'] = 'delegated'
    return fields, delegated, found


def _redirect_findings(url, host, chain, problem):
    found = []
    if len(chain) > 1:
        hosts = set(urlsplit(hop['url']).hostname for hop in chain)
        found.append(_finding('well_known_redirect', '%s redirects (%s).' % (
            url, ' -> '.join('%s %s' % (h['status'], h['url']) for h in chain)), host))
        if len(hosts) > 1:
            found.append(_finding('well_known_redirect_cross_host', 'The well-known redirect leaves %s for %s.'
                                  % (host, ', '.join(sorted(h for h in hosts if h != host))), host))
    if problem is not None:
        kind, where = problem
        code = {'loop': 'well_known_redirect_loop', 'limit': 'well_known_redirect_limit',
                'insecure': 'well_known_redirect_insecure', 'invalid': 'well_known_redirect_invalid'}[kind]
        found.append(_finding(code, 'Redirects of %s %s at %r; other servers treat it as "no delegation".'
                              % (url, {'loop': 'loop', 'limit': 'exceed %d' % MAX_REDIRECTS, 'insecure': 'leave HTTPS',
                                       'invalid': 'point at a URL that cannot be fetched'}[kind],
                                 where[:200]), host))
    return found


def _transport_failure(url, host, exc):
    """(result, finding) for a fetch that raised."""
    if isinstance(exc, TimeoutTransportError):
        # Peers wait for it too, and some never get to the fallback (the verdict says who).
        return 'timeout', _finding('well_known_timeout', 'Fetching %s timed out: %s.' % (url, exc.message), host)
    if isinstance(exc, TlsError):
        return 'tls_error', _finding('well_known_tls', 'Fetching %s failed: %s; other servers ignore the well-known file.'
                                     % (url, exc.message), host)
    return 'unreachable', _finding('well_known_unreachable', 'No well-known file: %s.' % exc.message, host)


def fetch_well_known(network, name, pool, deadline=None, budget=None):
    """Step 3 for a ServerName without IP literal or port. Returns a WellKnown.

    Every address of the host (at most MAX_ADDRESSES) is also asked on its own (leaf tasks on
    pool) when there are several: other servers pick one address each, so differing answers
    split the federation. deadline: when the whole step ends (a time.monotonic() value);
    budget: the check's Budget."""
    host = name.host
    url = 'https://%s%s' % (host, WELL_KNOWN_PATH)
    record = {'url': url, 'result': None, 'status': None, 'redirects': [], 'content_type': None,
              'size': None, 'm_server': None, 'cache': None, 'error': None, 'seconds': None}
    found = []
    started = time.monotonic()
    # Looked up once: the fetch below, step 6 and the port-8448 fallback use these answers.
    all_ips, answers = url_addresses(network, host, deadline)
    ips, dropped = cap_addresses([(ip, 6 if ':' in ip else 4) for ip in all_ips])
    ips = [ip for ip, _family in ips]
    if dropped:
        found.append(Finding('addresses_capped', '%s has %d addresses; the well-known is fetched from the first %d (%s), '
                             'not from %s.' % (host, len(all_ips), len(ips), ', '.join(ips),
                                               ', '.join(ip for ip, _f in dropped[:10]) + (' ...' if len(dropped) > 10 else '')),
                             step='3', name=host, limit=MAX_ADDRESSES))
    # Other servers pick one address of the server name each; the reference tester tries only
    # one. Ask every address (in parallel) and compare, when there is more than one.
    probes = [(ip, pool.submit(probe_well_known, network, url, ip, deadline, budget)) for ip in ips] if len(ips) > 1 else []
    try:
        try:
            response, chain, problem = get_following(network, url, WELL_KNOWN_MAX_SIZE, first_ips=ips, deadline=deadline,
                                                     budget=budget, first_answers=answers)
        finally:
            found.extend(_compare_addresses(record, probes, host))
    except TransportError as exc:
        record['error'] = exc.message
        record['seconds'] = round(time.monotonic() - started, 4)
        record['result'], finding = _transport_failure(url, host, exc)
        if record['result'] == 'timeout':
            # Where it hung: peers bound each phase differently (Go: 10 s for a handshake).
            record['timeout_phase'] = ('connect' if isinstance(exc, ConnectTimeoutError)
                                       else 'tls' if isinstance(exc, TlsTimeoutError) else 'response')
        found.append(finding)
        return WellKnown(record, None, found, answers=answers)
    record['seconds'] = round(time.monotonic() - started, 4)
    record['redirects'] = chain[:-1] if response is not None else chain
    found.extend(_redirect_findings(url, host, chain, problem))
    if problem is not None:
        record['result'] = 'redirect_' + problem[0]
        return WellKnown(record, None, found, answers=answers)
    fields, delegated, answer_found = read_well_known(url, host, response)
    record.update(fields)
    found.extend(answer_found)
    return WellKnown(record, delegated, found, answers=answers)


def probe_well_known(network, url, ip, deadline=None, budget=None):
    """What one address of the server name answers for the well-known (leaf task)."""
    try:
        response, _chain, problem = get_following(network, url, WELL_KNOWN_MAX_SIZE, first_ips=[ip], deadline=deadline,
                                                  budget=budget)
    except TransportError as exc:
        return {'address': ip, 'answer': 'tls error' if isinstance(exc, TlsError) else 'unreachable', 'error': exc.message}
    if problem is not None:
        return {'address': ip, 'answer': 'redirect %s' % problem[0], 'error': None}
    m_server = None
    if response.status == 200 and not response.truncated:
        try:
            doc = json_loads(response.body)
            m_server = doc.get('m.server') if isinstance(doc, dict) else None
        except ValueError:
            m_server = '(invalid JSON)'
    answer = 'HTTP %d' % response.status + (' m.server=%s' % m_server if m_server is not None else '')
    return {'address': ip, 'answer': answer, 'error': None}


def _compare_addresses(record, probes, host):
    """Findings when the addresses of host answer differently; adds record['per_address']."""
    if not probes:
        return []
    seen = [future.result() for _ip, future in probes]
    record['per_address'] = seen
    reachable = [p for p in seen if p['answer'] != 'unreachable']
    if len(set(p['answer'] for p in reachable)) > 1:
        return [_finding('well_known_inconsistent', 'The addresses of %s answer differently: %s.' % (
            host, '; '.join('%s: %s' % (p['address'], p['answer']) for p in seen)), host)]
    if reachable and len(reachable) < len(seen):
        return [_finding('well_known_address_unreachable', 'Some addresses of %s do not answer HTTPS: %s.' % (
            host, ', '.join(p['address'] for p in seen if p['answer'] == 'unreachable')), host)]
    return []
