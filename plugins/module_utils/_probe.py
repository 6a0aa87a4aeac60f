# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""The checks of one federation address, as a peer meets it: connect, TLS and the certificate
(with the reason when it is not trusted), the signed keys (spec "Retrieving server keys"), the
version endpoint and what the reverse proxy in front does to federation requests (each federation
route reaching the homeserver, _routes.py; body limits; percent-encoded paths).

probe_address() is a leaf task: it returns (result dict, [Finding]) for one address and waits
for no other task.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.mxfed.federation.plugins.module_utils._budget import RequestCapError, take_request
from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectError,
    TimeoutTransportError,
    TlsError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession
from ansible_collections.mxfed.federation.plugins.module_utils._json import loads as json_loads
from ansible_collections.mxfed.federation.plugins.module_utils._keys import check_key_response
from ansible_collections.mxfed.federation.plugins.module_utils._report import ERROR, Finding
from ansible_collections.mxfed.federation.plugins.module_utils._routes import (
    BACKEND_DOWN,
    BACKEND_DOWN_STATUSES,
    HOMESERVER,
    ROUTE_PROBES,
    classify,
    is_homeserver_body,
    probe_path,
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

CERT_WARN_SECONDS = 14 * 24 * 3600
KEYS_MAX_SIZE = 200 * 1024  # four times the well-known's 50 KiB: a key response with many old keys
PROXY_BODY_SIZE = 1024 * 1024 + 64 * 1024  # just above nginx's default client_max_body_size (1m)
TIMED_OUT = '*stop*'  # in _check_routes' result: the per-address deadline or the optional requests are spent


def probe_address(network, route, server_name, checks, target, ip, family, deadline=None, budget=None):
    """Connect, verify TLS, fetch keys/version, probe the proxy. Returns (dict, [Finding]).

    route gives the SNI, Host header and certificate name; server_name (the name as given) is
    whom the keys must be signed by; checks: the optional groups to run. deadline: when all of
    it ends (a time.monotonic() value; each step also within the timeout); budget: the check's
    Budget (requests counted)."""
    where = '%s:%d' % ('[%s]' % ip if family == 6 else ip, target.port)
    found = []

    def add(code, message, **fmt):
        fmt.setdefault('ip', ip)
        fmt.setdefault('port', target.port)
        fmt.setdefault('name', route.tls_name)
        found.append(Finding(code, message, address=where, **fmt))

    result = {'address': ip, 'family': family, 'port': target.port, 'host': target.host, 'sni': route.sni,
              'host_header': route.host_header, 'tcp': None, 'tls': None, 'certificate': None, 'keys': None,
              'version': None, 'proxy': None, 'server_header': None, 'ok': False, 'error': None, 'timings': {}}
    start = time.monotonic()
    try:
        sock, info = network.connect_tls(ip, target.port, route.sni, deadline=deadline)
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
        cert['expected_name'] = route.tls_name
        cert['name_ok'] = match_certificate_name(leaf, route.tls_name)
        cert['seconds_left'] = int(cert_seconds_left(leaf))
        result['certificate'] = cert
    if sock is None:
        explain_tls_failure(info, add)
        result['error'] = 'TLS verification failed: %s' % info.verify_message
        return result, found
    ok = True
    cert = result['certificate']
    if cert is None or not cert['name_ok']:
        ok = False
        names = ', '.join((cert or {}).get('dns_names', []) + (cert or {}).get('ip_addresses', [])) or 'none'
        add('tls_name_mismatch', 'The certificate on %s is not valid for %s (it names: %s).' % (where, route.tls_name, names))
    elif cert['seconds_left'] < CERT_WARN_SECONDS:
        add('tls_cert_expiring', 'The certificate on %s expires in %.1f days.' % (where, cert['seconds_left'] / 86400.0))

    session = _Session(HttpSession(network, ip, target.port, route.sni, route.host_header, sock=sock), deadline, budget)
    try:
        if 'keys' in checks:
            ok = _check_keys(session, server_name, result, add) and ok
        if 'version' in checks:
            _check_version(session, result, add)
        # With the homeserver down, the proxy probes would only repeat the same 502.
        if 'proxy' in checks and not result.get('backend_unavailable'):
            down = _check_routes(session, result, add)
            _check_proxy(session, result, add, down)
    finally:
        session.close()
    result['ok'] = ok
    result['timings']['total'] = round(time.monotonic() - start, 4)
    return result, found


class _Session(object):
    """An HttpSession whose requests end by the per-address deadline and count against the
    check's request budget."""

    def __init__(self, session, deadline, budget):
        self.session = session
        self.deadline = deadline
        self.budget = budget

    def request(self, method, path, body=None, headers=None, limit=None, optional=False):
        take_request(self.budget, '%s %s' % (method, path), optional=optional)
        kwargs = {} if limit is None else {'limit': limit}
        return self.session.request(method, path, body=body, headers=headers, deadline=self.deadline, **kwargs)

    def close(self):
        self.session.close()


def explain_tls_failure(info, add):
    """Name why verification failed (expired, not yet valid, missing intermediate, untrusted)."""
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


def _note_server_header(response, result, add):
    server = response.header('Server')
    if server and result['server_header'] is None:
        result['server_header'] = server
    if (server and 'cloudflare' in server.lower()) or response.header('CF-RAY'):
        if not result.get('cloudflare'):
            result['cloudflare'] = True
            add('proxy_cloudflare', 'Responses on %s:%d come through Cloudflare (Server: %s, cf-ray: %s).'
                % (result['address'], result['port'], server, response.header('CF-RAY')))


def _check_keys(session, server_name, result, add):
    start = time.monotonic()
    try:
        response = session.request('GET', '/_matrix/key/v2/server', limit=KEYS_MAX_SIZE)
    except TransportError as exc:
        add('keys_request_failed', 'GET /_matrix/key/v2/server failed: %s.' % exc.message)
        result['keys'] = {'error': exc.message}
        result['hung'] = isinstance(exc, TimeoutTransportError)
        return False
    result['timings']['keys'] = round(time.monotonic() - start, 4)
    _note_server_header(response, result, add)
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
        doc = json_loads(response.body)
    except ValueError as exc:  # _json.JsonError: not UTF-8, too deep, numbers out of range, invalid
        add('keys_invalid_json', 'GET /_matrix/key/v2/server is not JSON (%s).' % str(exc)[:120])
        return False
    summary, problems = check_key_response(doc, server_name)
    record.update(summary)
    ok = True
    for problem in problems:
        add(problem.code, problem.message, **problem.fmt)
        if Finding(problem.code, '').level == ERROR:
            ok = False
    record['ok'] = ok
    return ok


def _get_json(session, method, path, body=None, headers=None):
    """An optional request (version and proxy probes) and its JSON body (None if not JSON)."""
    response = session.request(method, path, body=body, headers=headers, optional=True)
    try:
        doc = json_loads(response.body) if response.body else None
    except ValueError:
        doc = None
    return response, doc


def _check_version(session, result, add):
    try:
        response, doc = _get_json(session, 'GET', '/_matrix/federation/v1/version')
    except RequestCapError as exc:
        result['version'] = {'skipped': exc.message}
        return
    except TransportError as exc:
        add('version_failed', 'GET /_matrix/federation/v1/version failed: %s.' % exc.message)
        return
    server = doc.get('server') if isinstance(doc, dict) else None
    if response.status != 200 or not isinstance(server, dict):
        add('version_failed', 'GET /_matrix/federation/v1/version answered HTTP %d without a "server" object.' % response.status)
        result['version'] = {'status': response.status}
        return
    result['version'] = {'status': response.status, 'name': server.get('name'), 'version': server.get('version')}


_PROXY_BODY = []


def _proxy_body():
    """The 1.1 MiB transaction body, built once: every address's PUT shares the same bytes."""
    if not _PROXY_BODY:
        _PROXY_BODY.append(json.dumps({'origin': 'mxfed-check.invalid', 'origin_server_ts': 0, 'pdus': [], 'edus': [],
                                       'mxfed_padding': 'x' * PROXY_BODY_SIZE}).encode('utf-8'))
    return _PROXY_BODY[0]


def _check_routes(session, result, add):
    """One small request per federation routing class (_routes.ROUTE_PROBES): a class the proxy
    answers itself with 502/503/504 while the key endpoint answered is a pool of homeserver
    processes down (a Synapse worker), named with its paths and who breaks. Returns the routes
    found down; after a probe timed out (the address's deadline is spent) the rest are skipped and
    the set holds TIMED_OUT too."""
    records = []
    result['proxy'] = {'routes': records}
    down = set()
    txn = 'mxfed-check-%s' % os.urandom(6).hex()
    for probe in ROUTE_PROBES:
        path = probe_path(probe, txn)
        record = {'route': probe.route, 'method': probe.method, 'path': path}
        records.append(record)
        if TIMED_OUT in down:
            record.update({'skipped': 'an earlier route probe timed out or was not sent', 'answered_by': None, 'ok': None})
            continue
        headers = {'Content-Type': 'application/json'} if probe.body is not None else None
        try:
            response, doc = _get_json(session, probe.method, path, body=probe.body, headers=headers)
        except RequestCapError as exc:
            record.update({'skipped': exc.message, 'answered_by': None, 'ok': None})
            down.add(TIMED_OUT)  # nothing more is sent from here: skip the rest the same way
            continue
        except TransportError as exc:
            record.update({'error': exc.message, 'answered_by': None, 'ok': False})
            down.add(probe.route)
            if isinstance(exc, TimeoutTransportError):
                down.add(TIMED_OUT)
            add('route_backend_unavailable', '%s %s failed (%s) while the key endpoint answered: what serves %s '
                'did not answer. Who breaks: %s.' % (probe.method, path, exc.message, probe.route, probe.what),
                route=probe.route, path=path)
            continue
        answered_by = classify(response.status, doc)
        record.update({'status': response.status, 'answered_by': answered_by, 'ok': answered_by == HOMESERVER})
        if answered_by == BACKEND_DOWN:
            down.add(probe.route)
            add('route_backend_unavailable', '%s %s answered HTTP %d from the proxy (Server: %s) while the key endpoint '
                'was answered by the homeserver: what serves %s did not answer. Who breaks: %s.'
                % (probe.method, path, response.status, response.header('Server') or 'unknown', probe.route, probe.what),
                route=probe.route, path=path, status=response.status)
        elif answered_by != HOMESERVER:
            down.add(probe.route)
            add('proxy_nonmatrix_response', '%s %s answered HTTP %d without a Matrix error: it did not reach the '
                'homeserver. Who breaks: %s.' % (probe.method, path, response.status, probe.what))
    return down


def _check_proxy(session, result, add, down=frozenset()):
    """Spec-independent checks of the reverse proxy in front of the homeserver (DISCOVERY.md 6).
    down: the routes _check_routes found not answered by the homeserver; a probe on such a route
    would only repeat that finding under another name (a 502 taken for a body limit)."""
    record = result.get('proxy') or {}
    result['proxy'] = record
    if TIMED_OUT in down:
        record['large_transaction'] = record['encoded_path'] = {'skipped': 'a route probe timed out or was not sent', 'ok': None}
        return
    if 'transactions' in down:
        record['large_transaction'] = {'skipped': 'the transactions route did not reach the homeserver', 'ok': None}
    else:
        _check_large_transaction(session, record, add)
    if 'queries' in down:
        record['encoded_path'] = {'skipped': 'the federation reads route did not reach the homeserver', 'ok': None}
    else:
        _check_encoded_path(session, record, add)


def _check_large_transaction(session, record, add):
    txn = 'mxfed-check-%s' % os.urandom(6).hex()
    body = _proxy_body()
    try:
        response, doc = _get_json(session, 'PUT', '/_matrix/federation/v1/send/%s' % txn, body=body,
                                  headers={'Content-Type': 'application/json'})
    except RequestCapError as exc:
        record['large_transaction'] = {'skipped': exc.message, 'ok': None}
        return
    except TransportError as exc:
        record['large_transaction'] = {'error': exc.message, 'ok': False}
        add('proxy_upload_closed', 'An unauthenticated %d-byte PUT /_matrix/federation/v1/send was cut off: %s.'
            % (len(body), exc.message))
    else:
        is_matrix = is_homeserver_body(doc)
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


def _check_encoded_path(session, record, add):
    # An event ID with "/" (room v3+ IDs are base64 and contain it) must reach the homeserver
    # still encoded; a decoding proxy turns the route into a 404/400 M_UNRECOGNIZED.
    path = '/_matrix/federation/v1/event/%24mxfed-check%2Fprobe%3Amxfed-check.invalid'
    try:
        response, doc = _get_json(session, 'GET', path)
    except RequestCapError as exc:
        record['encoded_path'] = {'skipped': exc.message, 'ok': None}
        return
    except TransportError as exc:
        record['encoded_path'] = {'error': exc.message, 'ok': False}
        add('proxy_nonmatrix_response', 'GET %s failed: %s.' % (path, exc.message))
        return
    is_matrix = is_homeserver_body(doc)
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
