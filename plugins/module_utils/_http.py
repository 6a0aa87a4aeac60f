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
them chosen apart (server-server-api.md "Resolving server names"), so the check opens the (TLS)
socket itself and h11 (sans-I/O, strict) only frames the bytes. The I/O loop here is what makes
a hostile server harmless:

- every request has a deadline on the wall clock: the socket timeout is set to the time left
  before each send and recv, so a server trickling one byte at a time cannot stretch a request;
- every read is bounded in bytes: response head and chunk lines by h11's incomplete-event limit
  (MAX_HEAD_BYTES), the body by the caller's `limit`, and the raw bytes of one response (1xx
  responses and chunk framing included) by RAW_SLACK beyond that;
- a server may answer (413) before it has read a large request body: sending stops as soon as
  an answer arrives, and that answer is read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import select
import socket
import ssl
import time
import traceback
from urllib.parse import urlsplit

try:
    import h11
    HAS_H11 = True
    H11_IMPORT_ERROR = None
except ImportError:
    HAS_H11 = False
    H11_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectionClosedError,
    HttpError,
    InvalidUrlError,
    RequestTimeoutError,
    TlsError,
    TransportError,
    short_error,
)
from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    ServerNameError,
    parse_host_port,
)

USER_AGENT = 'mxfed-delegation-check/0.1'

# Status line plus headers of one response, and one chunk-size or trailer line (h11's
# max_incomplete_event_size). Synapse's and Caddy's answers use about 1 KiB.
MAX_HEAD_BYTES = 64 * 1024
# Raw bytes of one response beyond the body limit: heads, 1xx responses, chunk framing.
RAW_SLACK = 1024 * 1024
RECV_SIZE = 64 * 1024
SEND_SIZE = 64 * 1024
DEFAULT_LIMIT = 1024 * 1024


class _ClosedBeforeAnswer(Exception):
    """The server closed or reset the connection before any byte of an answer (retryable once)."""


class _BadAnswer(Exception):
    """The answer broke off or grew past its byte bound (becomes an HttpError naming the request)."""


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


class HttpsUrl(object):
    """An https URL split for our own connection: host (no brackets), port, request target."""

    def __init__(self, url, host, port, target, host_header, ip_version):
        self.url = url
        self.host = host
        self.port = port
        self.target = target
        self.host_header = host_header
        self.ip_version = ip_version


def parse_https_url(url):
    """Split an absolute https URL (a redirect Location after urljoin, a client base_url).

    Returns an HttpsUrl or raises InvalidUrlError (a TransportError); never another exception.
    The authority follows the server name grammar (spec appendix "Server Name"), so `https://:`,
    `https://.0`, `https://h:99999/x`, `https://[` and port 0 (which urlsplit reads as "no port"
    and would send to 443) are refused with a sentence that names the URL.
    """
    if not isinstance(url, str):
        raise InvalidUrlError('URL %r is not a string' % (url,))
    shown = url if len(url) <= 200 else url[:197] + '...'
    if any(ord(c) < 0x21 or ord(c) == 0x7f for c in url):
        raise InvalidUrlError('URL %r contains spaces or control characters' % shown)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidUrlError('URL %r cannot be parsed: %s' % (shown, exc))
    if parts.scheme.lower() != 'https':
        raise InvalidUrlError('URL %r is not https' % shown)
    try:
        name = parse_host_port(parts.netloc)
    except ServerNameError as exc:
        raise InvalidUrlError('URL %r has an invalid host: %s' % (shown, exc.message))
    port = 443 if name.port is None else name.port
    host_header = name.host_for_url if port == 443 else '%s:%d' % (name.host_for_url, port)
    target = (parts.path or '/') + ('?' + parts.query if parts.query else '')
    return HttpsUrl(url, name.host, port, target, host_header, name.ip_version)


def _remaining(deadline, what):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout(what)
    return left


class HttpSession(object):
    """HTTP/1.1 keep-alive requests to one (ip, port) with a fixed SNI and Host header.

    Reconnects (verified TLS again) when the server closed the connection. `network` is anything
    with `connect_tls(ip, port, sni, deadline=)` and `timeout` (a Network or a Dialer). Each request ends
    within `network.timeout` seconds of wall-clock time (or by an earlier `deadline`, a
    time.monotonic() value, for callers that hold a per-step or per-check deadline).
    """

    def __init__(self, network, ip, port, sni, host_header, sock=None):
        if not HAS_H11:
            raise RuntimeError('h11 is required')
        self.network = network
        self.ip = ip
        self.port = port
        self.sni = sni
        self.host_header = host_header
        self._sock = sock
        self._h11 = self._new_h11() if sock is not None else None
        self._reused = False  # the current connection has answered a request before
        self.requests = 0

    @staticmethod
    def _new_h11():
        return h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)

    def _open(self, deadline):
        sock, info = self.network.connect_tls(self.ip, self.port, self.sni, deadline=deadline)
        if sock is None:
            raise TlsError('TLS verification failed on reconnect: %s' % info.verify_message)
        self._sock = sock
        self._h11 = self._new_h11()
        self._reused = False

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._h11 = None

    def _where(self, method, path):
        return '%s %s on %s port %d' % (method, path, self.ip, self.port)

    def request(self, method, path, body=None, headers=None, limit=DEFAULT_LIMIT, deadline=None):
        """One request; returns an HttpResponse or raises a TransportError subclass."""
        start = time.monotonic()
        own = start + float(self.network.timeout)
        deadline = own if deadline is None else min(deadline, own)
        if isinstance(body, str):
            body = body.encode('utf-8')
        for attempt in (0, 1):
            if self._sock is None:
                self._open(deadline)
            reused = self._reused
            try:
                return self._request_once(method, path, body, headers, limit, deadline)
            except _ClosedBeforeAnswer as exc:
                self.close()
                # A reused keep-alive connection may have been closed by the server: retry once.
                if attempt == 1 or not reused:
                    raise ConnectionClosedError('connection closed by %s port %d during %s %s: %s'
                                                % (self.ip, self.port, method, path, exc))
            except socket.timeout:
                self.close()
                raise RequestTimeoutError('%s got no complete answer within %.1f s'
                                          % (self._where(method, path), max(0.0, deadline - start)))
            except _BadAnswer as exc:
                self.close()
                raise HttpError('%s failed: %s' % (self._where(method, path), exc))
            except TransportError:
                self.close()
                raise
            except (h11.RemoteProtocolError, h11.LocalProtocolError) as exc:
                self.close()
                text = short_error(exc)
                if 'Receive buffer too long' in text:
                    text = 'a response head or chunk line is longer than %d bytes' % MAX_HEAD_BYTES
                raise HttpError('%s failed: invalid HTTP: %s' % (self._where(method, path), text))
            except (OSError, ssl.SSLError) as exc:
                self.close()
                raise HttpError('%s failed: %s' % (self._where(method, path), short_error(exc)))
        raise ConnectionClosedError('unreachable')  # pragma: no cover

    def _request_once(self, method, path, body, headers, limit, deadline):
        all_headers = {'Host': self.host_header, 'User-Agent': USER_AGENT, 'Accept': 'application/json'}
        all_headers.update(headers or {})
        if body is not None or method in ('POST', 'PUT', 'PATCH'):
            all_headers['Content-Length'] = str(len(body or b''))
        conn = self._h11
        head = conn.send(h11.Request(method=method, target=path, headers=list(all_headers.items())))
        wire = head + (conn.send(h11.Data(data=body)) if body else b'') + conn.send(h11.EndOfMessage())
        early = self._send(wire, deadline, large=bool(body) and len(body) >= SEND_SIZE)
        response, data, truncated = self._receive(limit, deadline, early)
        self.requests += 1
        if truncated or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            # Truncated, answered before our body was sent, or the server will close: not reusable.
            self.close()
        else:
            try:
                conn.start_next_cycle()
                self._reused = True
            except h11.LocalProtocolError:
                self.close()
        headers_out = [(name.decode('latin-1'), value.decode('latin-1')) for name, value in response.headers.raw_items()]
        return HttpResponse(response.status_code, response.reason.decode('latin-1'), headers_out, bytes(data), truncated)

    def _send(self, wire, deadline, large):
        """Send `wire`; stop early if the server starts answering. Returns bytes already received."""
        sock = self._sock
        view = memoryview(wire)
        offset = 0
        while offset < len(view):
            left = _remaining(deadline, 'send')
            try:
                readable, writable, _x = select.select([sock], [sock], [], left)
            except ValueError:  # the socket was closed under us
                raise _ClosedBeforeAnswer('socket closed')
            if readable:
                early = self._peek(sock)
                if early is not None:
                    return early  # an answer (or EOF) before our request was complete
            if writable:
                sock.settimeout(_remaining(deadline, 'send'))
                try:
                    offset += sock.send(view[offset:offset + SEND_SIZE])
                except (BrokenPipeError, ConnectionResetError) as exc:
                    if not large or offset == 0:
                        raise _ClosedBeforeAnswer(short_error(exc))
                    # The server may answer (e.g. 413) and close before reading a large body.
                    return b''
        return b''

    @staticmethod
    def _peek(sock):
        """Bytes waiting on a readable socket, b'' at EOF, None if nothing for the application
        (a TLS 1.3 session ticket also makes the socket readable)."""
        sock.settimeout(0.0)
        try:
            return sock.recv(RECV_SIZE)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
            return None
        except (ConnectionResetError, BrokenPipeError):
            return b''

    def _receive(self, limit, deadline, pending):
        conn = self._h11
        sock = self._sock
        raw_cap = limit + RAW_SLACK
        raw = 0
        response = None
        body = bytearray()
        if pending:
            raw += len(pending)
            conn.receive_data(pending)
        elif pending == b'':
            pass  # nothing yet, or an early EOF that recv below will confirm
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                sock.settimeout(_remaining(deadline, 'recv'))
                try:
                    data = sock.recv(RECV_SIZE)
                except (ConnectionResetError, BrokenPipeError) as exc:
                    if response is None and raw == 0:
                        raise _ClosedBeforeAnswer(short_error(exc))
                    raise _BadAnswer('connection reset after %d bytes of the answer' % raw)
                if not data and response is None and raw == 0:
                    raise _ClosedBeforeAnswer('no answer before the connection closed')
                raw += len(data)
                if raw > raw_cap:
                    raise _BadAnswer('the answer exceeds %d bytes of HTTP framing and body' % raw_cap)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > limit:
                    del body[limit:]
                    return response, body, True
            elif isinstance(event, h11.EndOfMessage):
                return response, body, False
            elif isinstance(event, h11.ConnectionClosed):
                if response is None:
                    raise _ClosedBeforeAnswer('no answer before the connection closed')
                raise _BadAnswer('connection closed before the answer was complete')
            elif event is h11.PAUSED:  # pragma: no cover - only after EndOfMessage
                raise _BadAnswer('unexpected state while reading the answer')
            # InformationalResponse (1xx): skipped; bounded by raw_cap and the deadline.
