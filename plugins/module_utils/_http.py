# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""HTTP/1.1 over a socket we opened: a fixed IP, port, SNI and Host header per session.

Generic HTTP clients pick the address and the TLS name from the URL; the spec's steps need
them chosen apart (server-server-api.md "Resolving server names"), so http.client runs on our
own (TLS) socket and never reconnects by itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import socket
import ssl

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectionClosedError,
    HttpError,
    RequestTimeoutError,
    TlsError,
    TransportError,
    short_error,
)

USER_AGENT = 'mxfed-delegation-check/0.1'


class _SocketHTTPConnection(http.client.HTTPConnection):
    """http.client on a pre-connected (TLS) socket: never reconnects by itself."""

    def __init__(self, sock, timeout):
        http.client.HTTPConnection.__init__(self, 'mxfed.invalid', timeout=timeout)
        self.sock = sock

    def connect(self):
        raise ConnectionClosedError('the server closed the connection')


class HttpResponse(object):
    def __init__(self, status, reason, headers, body, truncated):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.truncated = truncated

    def header(self, name, default=None):
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    @property
    def content_type(self):
        return self.header('Content-Type')

    def is_json_type(self):
        ctype = (self.content_type or '').split(';', 1)[0].strip().lower()
        return ctype == 'application/json'


class HttpSession(object):
    """HTTP/1.1 keep-alive requests to one (ip, port) with a fixed SNI and Host header.

    Reconnects (verified TLS again) when the server closed the connection. `network` is anything
    with `connect_tls(ip, port, sni)` and `timeout` (a Network or a Dialer).
    """

    def __init__(self, network, ip, port, sni, host_header, sock=None):
        self.network = network
        self.ip = ip
        self.port = port
        self.sni = sni
        self.host_header = host_header
        self._conn = _SocketHTTPConnection(sock, network.timeout) if sock is not None else None
        self.requests = 0

    def _open(self):
        sock, info = self.network.connect_tls(self.ip, self.port, self.sni)
        if sock is None:
            raise TlsError('TLS verification failed on reconnect: %s' % info.verify_message)
        self._conn = _SocketHTTPConnection(sock, self.network.timeout)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, headers=None, limit=1024 * 1024):
        for attempt in (0, 1):
            if self._conn is None:
                self._open()
            try:
                return self._request_once(method, path, body, headers, limit)
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest, BrokenPipeError,
                    ConnectionResetError, TransportError) as exc:
                self.close()
                # A reused keep-alive connection may have been closed by the server: retry once.
                if attempt == 1 or self.requests == 0 or isinstance(exc, TlsError):
                    raise ConnectionClosedError('connection closed by %s port %d during %s %s: %s'
                                                % (self.ip, self.port, method, path, short_error(exc)))
            except socket.timeout:
                self.close()
                raise RequestTimeoutError('%s %s on %s port %d timed out' % (method, path, self.ip, self.port))
            except (http.client.HTTPException, OSError, ssl.SSLError) as exc:
                self.close()
                raise HttpError('%s %s on %s port %d failed: %s' % (method, path, self.ip, self.port, short_error(exc)))
        raise ConnectionClosedError('unreachable')  # pragma: no cover

    def _request_once(self, method, path, body, headers, limit):
        all_headers = {'Host': self.host_header, 'User-Agent': USER_AGENT, 'Accept': 'application/json'}
        all_headers.update(headers or {})
        conn = self._conn
        sent_ok = True
        try:
            conn.request(method, path, body=body, headers=all_headers)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (e.g. 413) before reading a large body: try to read it.
            if body is None or len(body) < 65536:
                raise
            sent_ok = False
        response = conn.getresponse()
        self.requests += 1
        data = response.read(limit + 1)
        truncated = len(data) > limit
        if truncated:
            data = data[:limit]
            self.close()
        elif response.will_close or not sent_ok:
            self.close()
        else:
            response.read()  # drain (normally empty) so the connection can be reused
        return HttpResponse(response.status, response.reason, response.getheaders(), data, truncated)
