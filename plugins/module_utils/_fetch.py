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

from urllib.parse import urljoin, urlsplit

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectError,
    DnsError,
    TlsError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession
from ansible_collections.mxfed.federation.plugins.module_utils._servername import ip_literal_version
from ansible_collections.mxfed.federation.plugins.module_utils._x509 import match_certificate_name

MAX_REDIRECTS = 10
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def redirect_location(response, url):
    """The absolute URL a redirect points at, or None without a Location header."""
    location = response.header('Location')
    return urljoin(url, location) if location else None


def host_header_for(host, port, default_port):
    shown = '[%s]' % host if ip_literal_version(host) == 6 else host
    return shown if port == default_port else '%s:%d' % (shown, port)


def url_addresses(network, host):
    """(ips, DNS answers) for a URL's host; an IP literal is its own address (no DNS)."""
    if ip_literal_version(host):
        return [host], []
    answers = network.lookup_many([(host, rdtype) for rdtype in network.address_types()])
    ips = [rec['address'] for answer in answers for rec in answer.records]
    return ips, answers


def get_once(network, url, limit, ips=None):
    """One GET of url (no redirects followed) on the first address that connects.

    Returns (HttpResponse, ip). A TLS failure is raised at once: another address of the same
    host would be judged by the same certificate rules. ips: addresses to use (default: DNS)."""
    parts = urlsplit(url)
    host = parts.hostname
    port = parts.port or 443
    path = (parts.path or '/') + ('?' + parts.query if parts.query else '')
    answers = []
    if ips is None:
        ips, answers = url_addresses(network, host)
    if not ips:
        failed = [a for a in answers if a.status != 'nodata']
        raise DnsError('no address for %s (%s)' % (host, ', '.join('%s %s' % (a.rdtype, a.status) for a in answers) or 'no answer')
                       if failed or answers else 'no address for %s' % host)
    sni = None if ip_literal_version(host) else host
    last = None
    for ip in ips:
        try:
            sock, info = network.connect_tls(ip, port, sni)
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
        session = HttpSession(network, ip, port, sni, host_header_for(host, port, 443), sock=sock)
        try:
            return session.request('GET', path, limit=limit), ip
        finally:
            session.close()
    raise last or ConnectError('no address of %s answered' % host)


def get_following(network, url, limit, max_redirects=MAX_REDIRECTS, first_ips=None):
    """GET with redirects followed and recorded. Returns (response or None, chain, problem).

    chain: one {'url', 'status', 'address'[, 'location']} per request. problem: None, or
    ('loop' | 'limit' | 'insecure', the URL it stopped at) with response None.
    first_ips: addresses to use for the first request (default: resolve the URL's host)."""
    chain = []
    seen = set()
    current = url
    ips = first_ips
    while True:
        seen.add(current)
        response, ip = get_once(network, current, limit, ips)
        ips = None
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
            if urlsplit(nxt).scheme != 'https':
                return None, chain, ('insecure', nxt)
            current = nxt
            continue
        return response, chain, None
