# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""GET an https URL as a homeserver fetches a well-known file: the URL's host resolved to its
addresses, TLS verified for that host, redirects followed and recorded.

Used for /.well-known/matrix/server (_wellknown), /.well-known/matrix/client and the client
API (_client). Synapse's well_known_resolver.py follows redirects; the chain is kept so the
report can show it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from urllib.parse import urljoin

from ansible_collections.mxfed.federation.plugins.module_utils._budget import take_request
from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectError,
    DnsError,
    InvalidUrlError,
    TlsError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession, parse_https_url
from ansible_collections.mxfed.federation.plugins.module_utils._servername import ip_literal_version
from ansible_collections.mxfed.federation.plugins.module_utils._x509 import match_certificate_name

MAX_REDIRECTS = 10
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def redirect_location(response, url):
    """The absolute URL a redirect points at, or None without a Location header. A Location
    urljoin cannot read (`https://[`) is returned as it is: parse_https_url refuses it."""
    location = response.header('Location')
    if not location:
        return None
    try:
        return urljoin(url, location)
    except ValueError:
        return location


def host_header_for(host, port, default_port):
    shown = '[%s]' % host if ip_literal_version(host) == 6 else host
    return shown if port == default_port else '%s:%d' % (shown, port)


def url_addresses(network, host, deadline=None):
    """(ips, DNS answers) for a URL's host; an IP literal is its own address (no DNS)."""
    if ip_literal_version(host):
        return [host], []
    answers = network.lookup_many([(host, rdtype) for rdtype in network.address_types()], deadline=deadline)
    ips = [rec['address'] for answer in answers for rec in answer.records]
    return ips, answers


def get_once(network, url, limit, ips=None, deadline=None, budget=None, answers=None):
    """One GET of url (no redirects followed) on the first address that connects.

    Returns (HttpResponse, ip). A TLS failure is raised at once: another address of the same
    host would be judged by the same certificate rules. ips: addresses to use (default: DNS);
    answers: the DNS answers they came from, for the message when there are none (a lookup that
    found nothing is not asked again). deadline: a time.monotonic() value the whole GET (DNS,
    connect, TLS, request) ends by; budget: the check's Budget (requests counted).
    Raises InvalidUrlError for a URL that cannot be requested as it is (`https://h:0/`,
    `https://h:99999/`, `https://[`), never ValueError."""
    parsed = parse_https_url(url)
    host = parsed.host
    port = parsed.port
    if ips is None:
        ips, answers = url_addresses(network, host, deadline)
    answers = answers or []
    if not ips:
        failed = [a for a in answers if a.status != 'nodata']
        raise DnsError('no address for %s (%s)' % (host, ', '.join('%s %s' % (a.rdtype, a.status) for a in answers) or 'no answer')
                       if failed or answers else 'no address for %s' % host)
    sni = None if parsed.ip_version else host
    last = None
    for ip in ips:
        try:
            sock, info = network.connect_tls(ip, port, sni, deadline=deadline)
        except TransportError as exc:
            if isinstance(exc, TlsError):
                raise
            last = exc
            if deadline is not None and time.monotonic() >= deadline:
                break  # the other addresses would not even be tried
            continue
        if sock is None:
            raise TlsError('certificate of %s (%s) not trusted: %s' % (host, ip, info.verify_message))
        if info.leaf is None or not match_certificate_name(info.leaf, host):
            sock.close()
            raise TlsError('certificate of %s (%s) is not valid for %s' % (host, ip, host))
        session = HttpSession(network, ip, port, sni, parsed.host_header, sock=sock)
        try:
            take_request(budget, 'GET %s' % url)
            return session.request('GET', parsed.target, limit=limit, deadline=deadline), ip
        finally:
            session.close()
    raise last or ConnectError('no address of %s answered' % host)


def get_following(network, url, limit, max_redirects=MAX_REDIRECTS, first_ips=None, deadline=None, budget=None,
                  first_answers=None):
    """GET with redirects followed and recorded. Returns (response or None, chain, problem).

    chain: one {'url', 'status', 'address'[, 'location']} per request. problem: None, or
    ('loop' | 'limit' | 'insecure' | 'invalid', the URL it stopped at) with response None.
    first_ips: addresses to use for the first request (default: resolve the URL's host), and
    first_answers the DNS answers they came from. deadline, budget: as for get_once, for all
    the hops together."""
    chain = []
    seen = set()
    current = url
    ips, answers = first_ips, first_answers
    while True:
        seen.add(current)
        response, ip = get_once(network, current, limit, ips, deadline=deadline, budget=budget, answers=answers)
        ips = answers = None
        chain.append({'url': current, 'status': response.status, 'address': ip})
        if response.status in REDIRECT_STATUSES:
            nxt = redirect_location(response, current)
            if not nxt:
                return response, chain, None
            chain[-1]['location'] = nxt
            if nxt in seen:
                return None, chain, ('loop', nxt)
            if len(chain) > max_redirects:
                return None, chain, ('limit', nxt)
            if not nxt.lower().startswith('https:'):
                return None, chain, ('insecure', nxt)
            try:
                parse_https_url(nxt)
            except InvalidUrlError:
                # Port 0 (which urlsplit reads as "no port", i.e. 443), a port over 65535, a host
                # that is not a DNS name: a peer cannot fetch it either.
                return None, chain, ('invalid', nxt)
            current = nxt
            continue
        return response, chain, None
