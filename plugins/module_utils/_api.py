# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Authenticated JSON requests to a homeserver's client and admin APIs (our own server).

The same transport as the discovery check (resolver, CA, deadlines, byte limits), so a lab DNS
server and a private CA work the same way, and a slow or hostile answer cannot hang the caller.
Errors are typed: ApiError carries the HTTP status and the Matrix errcode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time
from urllib.parse import quote, urlsplit

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectError,
    DnsError,
    TlsError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._fetch import url_addresses
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession, parse_https_url
from ansible_collections.mxfed.federation.plugins.module_utils._json import JsonError
from ansible_collections.mxfed.federation.plugins.module_utils._json import loads as json_loads
from ansible_collections.mxfed.federation.plugins.module_utils._x509 import match_certificate_name

API_MAX_BYTES = 4 * 1024 * 1024  # a member list of a large room fits; anything bigger is refused


class ApiError(Exception):
    """A request to the homeserver's API failed: status is None when no HTTP answer came."""

    def __init__(self, message, status=None, errcode=None):
        Exception.__init__(self, message)
        self.message = message
        self.status = status
        self.errcode = errcode


def path_segment(value):
    """One percent-encoded path segment (room IDs, aliases, server names contain ! # : /)."""
    return quote(value, safe='')


LOOPBACK_HOSTS = ('localhost', '127.0.0.1', '::1')


class _PlainDialer(object):
    """Plain TCP where HttpSession asks for TLS: only for the homeserver's loopback listener."""

    def __init__(self, network):
        self.network = network
        self.timeout = network.timeout

    def connect_tls(self, ip, port, sni, deadline=None):  # pylint: disable=unused-argument
        return self.network.connect_tcp(ip, port, deadline=deadline), None


def _plain_loopback_url(base_url):
    """(host, port, path) of an http:// URL on loopback, or None for any other URL.

    The Synapse admin API is usually not exposed through the reverse proxy: on the homeserver
    host it answers on the plain-HTTP loopback listener (http://127.0.0.1:8008). Plain HTTP is
    refused anywhere else, so a token never crosses a network unencrypted."""
    parts = urlsplit(base_url)
    if parts.scheme.lower() != 'http':
        return None
    try:
        port = parts.port or 80
    except ValueError:
        raise ApiError('homeserver_url %s has an invalid port' % base_url)
    host = (parts.hostname or '').lower()
    if host not in LOOPBACK_HOSTS and not host.startswith('127.'):
        raise ApiError('homeserver_url %s is plain http on a host that is not loopback: use https, or '
                       'http://127.0.0.1:<port> on the homeserver host itself' % base_url)
    return host, port, parts.path.rstrip('/')


class HomeserverApi(object):
    """JSON requests with an access token to one base URL, on one kept-alive connection."""

    def __init__(self, network, base_url, access_token):
        self.network = network
        self.token = access_token
        self._session = None
        self.requests = 0
        plain = _plain_loopback_url(base_url)
        if plain is not None:
            host, port, self.base_path = plain
            self.plain = True
            self.host = '127.0.0.1' if host == 'localhost' else host
            self.port = port
            self.host_header = host if port == 80 else ('[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port))
            return
        self.plain = False
        try:
            self.url = parse_https_url(base_url.rstrip('/') + '/')
        except TransportError as exc:
            raise ApiError('homeserver_url %s: %s' % (base_url, exc.message))
        self.base_path = self.url.target.rstrip('/')
        self.host_header = self.url.host_header

    def _connect(self, deadline):
        if self.plain:
            dialer = _PlainDialer(self.network)
            sock, _info = dialer.connect_tls(self.host, self.port, None, deadline=deadline)
            return HttpSession(dialer, self.host, self.port, None, self.host_header, sock=sock)
        ips, _answers = url_addresses(self.network, self.url.host, deadline)
        if not ips:
            raise DnsError('no address for %s' % self.url.host)
        sni = None if self.url.ip_version else self.url.host
        last = None
        for ip in ips:
            try:
                sock, info = self.network.connect_tls(ip, self.url.port, sni, deadline=deadline)
            except TlsError:
                raise
            except TransportError as exc:
                last = exc
                continue
            if sock is None:
                raise TlsError('certificate of %s (%s) not trusted: %s' % (self.url.host, ip, info.verify_message))
            if info.leaf is None or not match_certificate_name(info.leaf, self.url.host):
                sock.close()
                raise TlsError('certificate of %s (%s) is not valid for %s' % (self.url.host, ip, self.url.host))
            return HttpSession(self.network, ip, self.url.port, sni, self.url.host_header, sock=sock)
        raise last or ConnectError('no address of %s answered' % self.url.host)

    def request(self, method, path, body=None, limit=API_MAX_BYTES):
        """Returns the decoded JSON object of a 2xx answer; raises ApiError otherwise."""
        deadline = time.monotonic() + float(self.network.timeout)
        what = '%s %s%s' % (method, self.host_header, path)
        headers = {'Authorization': 'Bearer %s' % self.token}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        try:
            if self._session is None:
                self._session = self._connect(deadline)
            self.requests += 1
            response = self._session.request(method, self.base_path + path, body=payload, headers=headers,
                                             limit=limit, deadline=deadline)
        except TransportError as exc:
            self.close()
            raise ApiError('%s: %s' % (what, exc.message))
        if response.truncated:
            raise ApiError('%s: the answer is larger than %d bytes' % (what, limit), status=response.status)
        try:
            doc = json_loads(response.body, max_bytes=limit)
        except JsonError as exc:
            doc = None
            problem = exc.message
        else:
            problem = None if isinstance(doc, dict) else 'the answer is not a JSON object'
        if 200 <= response.status < 300 and problem is None:
            return doc
        errcode = doc.get('errcode') if isinstance(doc, dict) else None
        error = doc.get('error') if isinstance(doc, dict) else None
        detail = ('%s %s' % (errcode, error or '')).strip() if errcode else (problem or 'no Matrix error')
        raise ApiError('%s answered HTTP %d: %s' % (what, response.status, detail[:300]), status=response.status,
                       errcode=errcode if isinstance(errcode, str) else None)

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None
