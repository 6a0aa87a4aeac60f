# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Fuzz targets (hypothesis) over what the delegation check parses from servers it does not control:
HTTP framing (h11 under our I/O loop, fed through a socketpair), DNS answers (dnspython's
from_wire, then our answer extraction), JSON bodies, server names and https URLs.

Each target: whatever the input, a value or one of our coded errors, never another exception.
Short by default (CI runs tests/unit); see README.md to run it longer.
"""

from __future__ import absolute_import, division, print_function

import os
import socket
import threading

import dns.message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.mxfed.federation.plugins.module_utils._dns import DnsClient, make_query
from ansible_collections.mxfed.federation.plugins.module_utils._errors import TransportError
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession, parse_https_url
from ansible_collections.mxfed.federation.plugins.module_utils._json import parse_json
from ansible_collections.mxfed.federation.plugins.module_utils._servername import ServerNameError, parse_server_name

EXAMPLES = int(os.environ.get('MXFED_FUZZ_EXAMPLES', '200'))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get('MXFED_FUZZ_RANDOM'),
                suppress_health_check=[HealthCheck.too_slow])


class _Net(object):
    timeout = 0.5

    def connect_tls(self, ip, port, sni, deadline=None):
        raise TransportError('no reconnect in the fuzz target')


def _serve(response, limit=4096):
    ours, theirs = socket.socketpair()

    def server():
        try:
            theirs.sendall(response)
            theirs.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client gave up early (a coded error): nothing more to send

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    session = HttpSession(_Net(), '127.0.0.1', 443, None, 'fuzz.test', sock=ours)
    try:
        result = session.request('GET', '/', limit=limit)
        assert len(result.body) <= limit
    except TransportError as exc:
        assert exc.kind in ('http', 'closed', 'timeout'), exc
    finally:
        session.close()
        thread.join(1)
        theirs.close()


_HEAD_PIECES = st.sampled_from([
    b'HTTP/1.1 200 OK\r\n', b'HTTP/1.0 404 Not Found\r\n', b'HTTP/1.1 100 Continue\r\n\r\n', b'HTTP/1.1 301 x\r\n',
    b'Content-Length: 5\r\n', b'Content-Length: -1\r\n', b'Content-Length: 99999999999999999999\r\n',
    b'Transfer-Encoding: chunked\r\n', b'Connection: close\r\n', b'Location: https://:\r\n', b'\r\n',
    b'5\r\nhello\r\n', b'0\r\n\r\n', b'-1\r\n', b'FFFFFFFFFFFFFFFFFFFF\r\n', b'abc', b'\r\n\r\n', b'\n', b'\x00',
])


@FUZZ
@given(st.one_of(st.binary(max_size=2000), st.lists(_HEAD_PIECES, max_size=12).map(b''.join)))
def test_http_framing(response):
    _serve(response)


@FUZZ
@given(st.binary(max_size=700), st.sampled_from(['A', 'AAAA', 'SRV', 'CNAME']))
def test_dns_answer(blob, rdtype):
    query, _refused = make_query('fuzz.test', rdtype)
    wire = query.to_wire()[:2] + blob  # the right ID, so it is taken as the answer
    try:
        response = dns.message.from_wire(wire, ignore_trailing=True)
    except Exception:  # pylint: disable=broad-except
        return  # the exchange drops whatever from_wire refuses and keeps waiting
    if query.is_response(response):
        DnsClient(nameservers=['127.0.0.1'], port=9, timeout=0.1)._answer('fuzz.test', rdtype, response, query)  # pylint: disable=protected-access


@FUZZ
@given(st.binary(max_size=2000))
def test_json(body):
    parse_json(body)


@FUZZ
@given(st.text(max_size=300))
def test_server_name_and_url(text):
    try:
        parse_server_name(text)
    except ServerNameError:
        pass
    try:
        parse_https_url('https://' + text)
    except TransportError:
        pass
