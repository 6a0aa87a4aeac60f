# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""Network access for the delegation check: DNS (dnspython), TCP, TLS and HTTP/1.1.

We open sockets ourselves because the check must choose the exact IP and port, the TLS SNI
and the Host header independently (spec server-server-api.md "Resolving server names"),
which generic HTTP clients do not allow. Tests inject a connector/port map so that the
federation port 8448 of 127.0.0.x can be served by an unprivileged test port.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.client
import ipaddress
import socket
import ssl
import struct
import time
import traceback

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError:
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()

try:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False

USER_AGENT = 'mxfed-delegation-check/0.1'

# OpenSSL verify codes we explain to the operator.
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20


class TransportError(Exception):
    """A network step failed; `kind` is a short machine word (refused, timeout, tls, ...)."""

    def __init__(self, kind, message):
        super(TransportError, self).__init__(message)
        self.kind = kind
        self.message = message


class _DnsFailure(Exception):
    def __init__(self, status, detail):
        super(_DnsFailure, self).__init__(detail)
        self.status = status
        self.detail = detail


def _recv_exactly(sock, count):
    data = b''
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError('connection closed')
        data += chunk
    return data


class DnsAnswer(object):
    """Outcome of one DNS question. status: ok, nxdomain, nodata, servfail, timeout, error."""

    def __init__(self, name, rdtype, status, records=None, canonical_name=None, error=None):
        self.name = name
        self.rdtype = rdtype
        self.status = status
        self.records = records or []
        self.canonical_name = canonical_name
        self.error = error

    @property
    def is_cname(self):
        return self.canonical_name is not None and self.canonical_name.rstrip('.').lower() != self.name.rstrip('.').lower()

    def as_dict(self):
        return {
            'name': self.name,
            'type': self.rdtype,
            'status': self.status,
            'records': self.records,
            'canonical_name': self.canonical_name,
            'error': self.error,
        }


class Network(object):
    """Everything that touches the network, configurable and injectable.

    nameservers: list of IP strings (None = system resolver); dns_port: port of those nameservers.
    connector(ip, port, timeout) -> connected socket; port_map {(ip, port): (ip, port)} rewrites
    the destination before connecting (tests only; production is the identity).
    """

    def __init__(self, nameservers=None, dns_port=53, ca_path=None, timeout=10.0, ip_version='any',
                 connector=None, port_map=None):
        if not HAS_DNSPYTHON:
            raise RuntimeError('dnspython is required')
        self.timeout = float(timeout)
        self.ip_version = str(ip_version)
        self.ca_path = ca_path
        self.port_map = dict(port_map or {})
        self._connector = connector
        self.dns_port = int(dns_port)
        if nameservers:
            self.nameservers = [str(ipaddress.ip_address(ns)) for ns in nameservers]
        else:
            # The system's resolv.conf, read by dnspython once.
            self.nameservers = [str(ns) for ns in dns.resolver.Resolver(configure=True).nameservers]
        self._verify_ctx = self._make_context(verify=True)
        self._diag_ctx = self._make_context(verify=False)

    # ---- DNS -----------------------------------------------------------------------
    def lookup(self, name, rdtype):
        """Ask one question; SERVFAIL, NXDOMAIN, no data and timeouts are kept apart.

        dnspython builds and parses the messages; the exchange is ours (UDP, TCP when truncated,
        every nameserver in turn): it costs less than half the CPU of dns.resolver, which matters
        when many names are checked at once, and never hides SERVFAIL behind "no answer".
        """
        qname = name if name.endswith('.') else name + '.'
        try:
            response = self._exchange(qname, rdtype)
        except _DnsFailure as exc:
            return DnsAnswer(name, rdtype, exc.status, error=exc.detail)
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, rdtype, 'error', error=_short(exc))
        return self._answer(name, rdtype, response)

    def _answer(self, name, rdtype, response):
        qname = name if name.endswith('.') else name + '.'
        if response.rcode() == dns.rcode.NXDOMAIN:
            return DnsAnswer(name, rdtype, 'nxdomain')
        wanted = dns.rdatatype.from_text(rdtype)
        canonical = dns.name.from_text(qname)
        rrset = None
        for _hop in range(16):  # follow the CNAME chain inside the answer section
            rrset = response.get_rrset(response.answer, canonical, dns.rdataclass.IN, wanted)
            if rrset is not None or wanted == dns.rdatatype.CNAME:
                break
            alias = response.get_rrset(response.answer, canonical, dns.rdataclass.IN, dns.rdatatype.CNAME)
            if alias is None:
                break
            canonical = alias[0].target
        records = []
        for rdata in rrset or []:
            if rdtype == 'SRV':
                records.append({
                    'priority': rdata.priority,
                    'weight': rdata.weight,
                    'port': rdata.port,
                    'target': rdata.target.to_text(),
                    'ttl': rrset.ttl,
                })
            elif rdtype in ('A', 'AAAA'):
                records.append({'address': rdata.address, 'ttl': rrset.ttl})
            else:
                records.append({'value': rdata.to_text(), 'ttl': rrset.ttl})
        status = 'ok' if records else 'nodata'
        return DnsAnswer(name, rdtype, status, records, canonical_name=canonical.to_text())

    def _exchange(self, qname, rdtype):
        query = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
        wire = query.to_wire()
        deadline = time.monotonic() + self.timeout
        problems = []
        refused = 0
        # Every nameserver once; a second round only for those that timed out or failed to answer.
        rounds = [list(self.nameservers), []]
        for current in rounds:
            for server in current:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    response = self._udp(wire, query, server, min(remaining, 2.0))
                    if response.flags & dns.flags.TC:
                        response = self._tcp(wire, query, server, max(0.1, deadline - time.monotonic()))
                except (socket.timeout, OSError, EOFError, dns.exception.DNSException) as exc:
                    problems.append('%s: %s' % (server, 'timeout' if isinstance(exc, socket.timeout) else _short(exc)))
                    if current is rounds[0]:
                        rounds[1].append(server)
                    continue
                rcode = response.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    return response
                refused += 1
                problems.append('%s: %s' % (server, dns.rcode.to_text(rcode)))
        if refused:
            raise _DnsFailure('servfail', '; '.join(problems))
        if problems and all(p.endswith('timeout') for p in problems):
            raise _DnsFailure('timeout', '; '.join(problems))
        raise _DnsFailure('error', '; '.join(problems) or 'no nameserver answered')

    def _udp(self, wire, query, server, timeout):
        family = socket.AF_INET6 if ':' in server else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.settimeout(timeout)
            sock.connect((server, self.dns_port))  # only answers from that server are accepted
            sock.send(wire)
            while True:
                response = dns.message.from_wire(sock.recv(65535), ignore_trailing=True)
                if query.is_response(response):
                    return response
        finally:
            sock.close()

    def _tcp(self, wire, query, server, timeout):
        sock = socket.create_connection((server, self.dns_port), timeout=timeout)
        try:
            sock.sendall(struct.pack('!H', len(wire)) + wire)
            (length,) = struct.unpack('!H', _recv_exactly(sock, 2))
            response = dns.message.from_wire(_recv_exactly(sock, length))
            if not query.is_response(response):
                raise dns.exception.DNSException('unexpected TCP answer')
            return response
        finally:
            sock.close()

    def lookup_many(self, questions):
        """Several (name, rdtype) questions in one round trip: all queries go out on one UDP socket
        to the first nameserver. Anything unusual (truncation, SERVFAIL, no answer in time) is asked
        again on its own through lookup(), which tries every nameserver and TCP."""
        results = [None] * len(questions)
        if len(questions) > 1 and self.nameservers:
            server = self.nameservers[0]
            queries = [dns.message.make_query(name if name.endswith('.') else name + '.', rdtype, use_edns=0, payload=1232)
                       for name, rdtype in questions]
            sock = socket.socket(socket.AF_INET6 if ':' in server else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.connect((server, self.dns_port))
                for query in queries:
                    sock.send(query.to_wire())
                pending = set(range(len(queries)))
                deadline = time.monotonic() + min(self.timeout, 2.0)
                while pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    sock.settimeout(remaining)
                    try:
                        response = dns.message.from_wire(sock.recv(65535), ignore_trailing=True)
                    except dns.exception.DNSException:
                        continue
                    for index in list(pending):
                        if queries[index].is_response(response):
                            pending.discard(index)
                            usable = response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
                            if usable and not response.flags & dns.flags.TC:
                                results[index] = self._answer(questions[index][0], questions[index][1], response)
                            break
            except (OSError, socket.timeout):
                pass
            finally:
                sock.close()
        for index, answer in enumerate(results):
            if answer is None:
                results[index] = self.lookup(*questions[index])
        return results

    def address_types(self):
        if self.ip_version == '4':
            return ['A']
        if self.ip_version == '6':
            return ['AAAA']
        return ['A', 'AAAA']

    # ---- TCP / TLS -----------------------------------------------------------------
    def _make_context(self, verify):
        if verify:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            # The name is checked by us on the verified leaf (match_certificate_name) so the
            # report can say "wrong name" separately from "untrusted chain".
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_REQUIRED
            if self.ca_path:
                ctx.load_verify_locations(cafile=self.ca_path)
        else:
            # Diagnostic only: used after a verified handshake failed, to read the chain the
            # server sends and explain why. Nothing learnt over it counts as a pass.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(['http/1.1'])
        return ctx

    def connect_tcp(self, ip, port):
        target = self.port_map.get((ip, port), (ip, port))
        try:
            if self._connector is not None:
                sock = self._connector(target[0], target[1], self.timeout)
            else:
                sock = socket.create_connection(target, timeout=self.timeout)
        except socket.timeout:
            raise TransportError('timeout', 'TCP connection to %s port %d timed out after %.0f s' % (ip, port, self.timeout))
        except OSError as exc:
            raise TransportError('refused' if isinstance(exc, ConnectionRefusedError) else 'unreachable',
                                 'TCP connection to %s port %d failed: %s' % (ip, port, exc.strerror or exc))
        try:
            # Small requests: do not let Nagle + delayed ACK add 40 ms per request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return sock

    def connect_tls(self, ip, port, sni):
        """TCP + verified TLS. Returns (sslsocket, TlsInfo). Verification failures are explained."""
        raw = self.connect_tcp(ip, port)
        try:
            sock = self._verify_ctx.wrap_socket(raw, server_hostname=sni)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            info = TlsInfo(verified=False, verify_code=exc.verify_code, verify_message=exc.verify_message)
            self._diagnose(ip, port, sni, info)
            return None, info
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            raise TransportError('tls', 'TLS handshake with %s port %d failed: %s' % (ip, port, _short(exc)))
        info = TlsInfo(verified=True)
        info.fill_from_socket(sock)
        return sock, info

    def _diagnose(self, ip, port, sni, info):
        try:
            raw = self.connect_tcp(ip, port)
            sock = self._diag_ctx.wrap_socket(raw, server_hostname=sni)
        except (TransportError, ssl.SSLError, OSError):
            return
        try:
            info.fill_from_socket(sock)
        finally:
            sock.close()


class TlsInfo(object):
    def __init__(self, verified, verify_code=None, verify_message=None):
        self.verified = verified
        self.verify_code = verify_code
        self.verify_message = verify_message
        self.version = None
        self.cipher = None
        self.chain = []  # DER, in the order the server sent them
        self.leaf = None  # cryptography Certificate

    def fill_from_socket(self, sock):
        self.version = sock.version()
        cipher = sock.cipher()
        self.cipher = cipher[0] if cipher else None
        chain = []
        sslobj = getattr(sock, '_sslobj', None)
        getter = getattr(sock, 'get_unverified_chain', None) or getattr(sslobj, 'get_unverified_chain', None)
        if getter is not None:
            try:
                for cert in getter() or []:
                    chain.append(cert.public_bytes(ssl._ssl.ENCODING_DER) if hasattr(cert, 'public_bytes') else cert)
            except (ssl.SSLError, AttributeError, ValueError):
                chain = []
        if not chain:
            der = sock.getpeercert(binary_form=True)
            if der:
                chain = [der]
        self.chain = chain
        if chain and HAS_CRYPTOGRAPHY:
            try:
                self.leaf = x509.load_der_x509_certificate(chain[0])
            except ValueError:
                self.leaf = None

    def sends_issuer_of_leaf(self):
        """Whether the certificates sent after the leaf include the leaf's issuer."""
        if self.leaf is None:
            return False
        for der in self.chain[1:]:
            try:
                if x509.load_der_x509_certificate(der).subject == self.leaf.issuer:
                    return True
            except ValueError:
                continue
        return False

    def chain_summary(self):
        out = []
        for der in self.chain:
            try:
                cert = x509.load_der_x509_certificate(der)
            except ValueError:
                out.append({'error': 'unparsable certificate'})
                continue
            out.append(describe_certificate(cert))
        return out


def _short(exc):
    text = str(exc) or exc.__class__.__name__
    return text if len(text) < 300 else text[:297] + '...'


def _not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _not_before(cert):
    value = getattr(cert, 'not_valid_before_utc', None)
    if value is None:
        value = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    return value


def certificate_names(cert):
    """(dns names, ip addresses) from subjectAltName. CN is ignored, as modern clients do."""
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def describe_certificate(cert):
    dns_names, ips = certificate_names(cert)
    try:
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
    except ValueError:
        subject = issuer = None
    return {
        'subject': subject,
        'issuer': issuer,
        'dns_names': dns_names,
        'ip_addresses': ips,
        'not_before': _not_before(cert).isoformat(),
        'not_after': _not_after(cert).isoformat(),
        'serial': '%x' % cert.serial_number,
    }


def name_matches(pattern, hostname):
    """RFC 6125 matching: exact, or a single leftmost '*' label that matches exactly one label."""
    pattern = pattern.rstrip('.').lower()
    hostname = hostname.rstrip('.').lower()
    if pattern == hostname:
        return True
    if not pattern.startswith('*.'):
        return False
    suffix = pattern[2:]
    if '*' in suffix or suffix.count('.') < 1:
        return False
    head, dot, rest = hostname.partition('.')
    return bool(head) and bool(dot) and rest == suffix


def match_certificate_name(cert, expected):
    """True if the certificate is valid for `expected` (DNS name or IP literal)."""
    dns_names, ips = certificate_names(cert)
    try:
        expected_ip = ipaddress.ip_address(expected)
    except ValueError:
        expected_ip = None
    if expected_ip is not None:
        return any(ipaddress.ip_address(ip) == expected_ip for ip in ips)
    try:
        wanted = expected.encode('idna').decode('ascii')
    except UnicodeError:
        wanted = expected
    return any(name_matches(name, wanted) for name in dns_names)


def cert_seconds_left(cert, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (_not_after(cert) - now).total_seconds()


def is_self_issued(cert):
    return cert.issuer == cert.subject


def cert_common_name(cert):
    try:
        attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return attrs[0].value if attrs else None


# ---- HTTP/1.1 over a socket we opened ------------------------------------------------
class _SocketHTTPConnection(http.client.HTTPConnection):
    """http.client on a pre-connected (TLS) socket: never reconnects by itself."""

    def __init__(self, sock, timeout):
        http.client.HTTPConnection.__init__(self, 'mxfed.invalid', timeout=timeout)
        self.sock = sock

    def connect(self):
        raise TransportError('closed', 'the server closed the connection')


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

    Reconnects (verified TLS again) when the server closed the connection.
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
            raise TransportError('tls', 'TLS verification failed on reconnect: %s' % info.verify_message)
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
                if attempt == 1 or self.requests == 0 or getattr(exc, 'kind', None) == 'tls':
                    raise TransportError('closed', 'connection closed by %s port %d during %s %s: %s'
                                         % (self.ip, self.port, method, path, _short(exc)))
            except socket.timeout:
                self.close()
                raise TransportError('timeout', '%s %s on %s port %d timed out' % (method, path, self.ip, self.port))
            except (http.client.HTTPException, OSError, ssl.SSLError) as exc:
                self.close()
                raise TransportError('http', '%s %s on %s port %d failed: %s' % (method, path, self.ip, self.port, _short(exc)))
        raise TransportError('closed', 'unreachable')  # pragma: no cover

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
