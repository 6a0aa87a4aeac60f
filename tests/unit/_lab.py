# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""A tiny loopback lab for the delegation check: a real DNS server (dnspython wire format over
UDP and TCP), HTTPS servers with certificates from a test CA, and a fake homeserver that signs
its keys. Shared by the unit tests and benchmarks/bench_delegation_check.py.

Servers listen on 127.0.0.x with ephemeral ports; the check's Network gets a port map that
sends "(127.0.0.x, 8448)" to the real port, so every address and port the algorithm picks is
served by a distinct listener that records the SNI and Host header it saw.
"""

from __future__ import absolute_import, division, print_function

import base64
import datetime
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from ansible_collections.mxfed.federation.plugins.module_utils._keys import canonical_json
from ansible_collections.mxfed.federation.plugins.module_utils._network import Network

UTC = datetime.timezone.utc


def free_port(ip, kind=socket.SOCK_STREAM):
    family = socket.AF_INET6 if ':' in ip else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- PKI
class Pki(object):
    """root -> intermediate -> leaves. Only root.pem is trusted by the check (ca_path)."""

    def __init__(self, directory):
        self.dir = directory
        now = datetime.datetime.now(UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._ca('mxfed test root', self.root_key, self.root_key, None, now)
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = self._ca('mxfed test intermediate', self.inter_key, self.root_key, self.root, now)
        self.root_pem = os.path.join(directory, 'root.pem')
        with open(self.root_pem, 'wb') as handle:
            handle.write(self.root.public_bytes(serialization.Encoding.PEM))
        self._cache = {}
        self._lock = threading.Lock()

    @staticmethod
    def _ca(cn, key, signer_key, signer, now):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(signer.subject if signer else subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if signer is not None:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                                            critical=False)
        return builder.sign(signer_key, hashes.SHA256())

    def leaf(self, names, expired=False, days=90, chain='full'):
        """Write key + chain files for `names` (DNS names and/or IPs); returns (certfile, keyfile)."""
        key = (tuple(names), expired, days, chain)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            now = datetime.datetime.now(UTC)
            leaf_key = ec.generate_private_key(ec.SECP256R1())
            sans = []
            for name in names:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    sans.append(x509.DNSName(name))
            if expired:
                start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
            else:
                start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)
            cert = (x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(names[0]))]))
                    .issuer_name(self.inter.subject)
                    .public_key(leaf_key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(start)
                    .not_valid_after(end)
                    .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.inter_key.public_key()),
                                   critical=False)
                    .sign(self.inter_key, hashes.SHA256()))
            base = os.path.join(self.dir, 'leaf%d' % len(self._cache))
            certfile, keyfile = base + '.crt', base + '.key'
            with open(certfile, 'wb') as handle:
                handle.write(cert.public_bytes(serialization.Encoding.PEM))
                if chain == 'full':
                    handle.write(self.inter.public_bytes(serialization.Encoding.PEM))
            with open(keyfile, 'wb') as handle:
                handle.write(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
            self._cache[key] = (certfile, keyfile)
            return certfile, keyfile


# ---------------------------------------------------------------- DNS
class DnsServer(object):
    """Authoritative-style answers from a dict; SERVFAIL and NXDOMAIN on demand; logs queries."""

    def __init__(self, ip='127.0.0.53', delay=0.0):
        self.ip = ip
        self.delay = delay  # seconds added before each answer (benchmark: simulated RTT)
        self.records = {}
        self.cnames = {}
        self.servfail = set()
        self.truncate = set()  # names answered over UDP with TC set and no records (forces TCP)
        self.queries = []
        self._lock = threading.Lock()
        for _attempt in range(20):
            port = free_port(ip, socket.SOCK_DGRAM)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                udp.bind((ip, port))
                tcp.bind((ip, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            break
        tcp.listen(16)
        self.port = port
        self._udp = udp
        self._tcp = tcp
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()

    @staticmethod
    def _key(name):
        name = name.lower()
        return name if name.endswith('.') else name + '.'

    def reset(self):
        with self._lock:
            self.records.clear()
            self.cnames.clear()
            self.servfail.clear()
            self.truncate.clear()
            del self.queries[:]

    def add(self, name, rdtype, *values):
        self.records.setdefault((self._key(name), rdtype.upper()), []).extend(values)

    def add_srv(self, name, target, port, priority=10, weight=5):
        self.add(name, 'SRV', '%d %d %d %s' % (priority, weight, port, self._key(target) if target != '.' else '.'))

    def add_cname(self, name, target):
        self.cnames[self._key(name)] = self._key(target)

    def fail(self, name, rdtype='*'):
        self.servfail.add((self._key(name), rdtype))

    def answer(self, wire, tcp=False):
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        rdtype = dns.rdatatype.to_text(question.rdtype)
        name = question.name.to_text().lower()
        with self._lock:
            self.queries.append((name, rdtype))
        if not tcp and name in self.truncate:
            response.flags |= dns.flags.TC
            return response.to_wire()
        if (name, rdtype) in self.servfail or (name, '*') in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        hops = 0
        while name in self.cnames and rdtype != 'CNAME' and hops < 8:
            target = self.cnames[name]
            response.answer.append(dns.rrset.from_text(name, 300, 'IN', 'CNAME', target))
            name = target
            hops += 1
        values = self.records.get((name, rdtype))
        if values:
            response.answer.append(dns.rrset.from_text_list(name, 300, 'IN', rdtype, values))
        elif not any(key[0] == name for key in self.records) and name not in self.cnames and not hops:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def _serve_udp(self):
        while True:
            try:
                wire, peer = self._udp.recvfrom(65535)
            except OSError:
                return
            if self.delay:
                threading.Thread(target=self._delayed_udp, args=(wire, peer), daemon=True).start()
                continue
            try:
                self._udp.sendto(self.answer(wire), peer)
            except Exception:  # pylint: disable=broad-except
                pass

    def _delayed_udp(self, wire, peer):
        time.sleep(self.delay)
        try:
            self._udp.sendto(self.answer(wire), peer)
        except Exception:  # pylint: disable=broad-except
            pass

    def _serve_tcp(self):
        while True:
            try:
                conn, _peer = self._tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn):
        with conn:
            try:
                while True:
                    head = conn.recv(2)
                    if len(head) < 2:
                        return
                    (length,) = struct.unpack('!H', head)
                    wire = b''
                    while len(wire) < length:
                        chunk = conn.recv(length - len(wire))
                        if not chunk:
                            return
                        wire += chunk
                    out = self.answer(wire, tcp=True)
                    conn.sendall(struct.pack('!H', len(out)) + out)
            except OSError:
                return

    def close(self):
        self._udp.close()
        self._tcp.close()


# ---------------------------------------------------------------- HTTPS + fake homeserver
def json_response(status, doc, headers=None):
    base = [('Content-Type', 'application/json')]
    base.extend((headers or {}).items() if isinstance(headers, dict) else (headers or []))
    return status, base, json.dumps(doc).encode('utf-8')


class SigningKey(object):
    def __init__(self, key_id='ed25519:a1'):
        self.key_id = key_id
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_b64 = base64.b64encode(raw).decode('ascii').rstrip('=')

    def sign(self, doc, server_name):
        unsigned = dict((k, v) for k, v in doc.items() if k not in ('signatures', 'unsigned'))
        sig = base64.b64encode(self.private.sign(canonical_json(unsigned))).decode('ascii').rstrip('=')
        doc.setdefault('signatures', {}).setdefault(server_name, {})[self.key_id] = sig
        return doc


class App(object):
    """Routes of one HTTPS listener. `routes` maps (method, path) or path to a response or callable."""

    def __init__(self, server_name=None, signing_key=None, valid_for_ms=7 * 24 * 3600 * 1000, routes=None,
                 key_server_name=None, tamper_signature=False, extra_headers=None, decode_paths=False):
        self.server_name = server_name
        self.signing_key = signing_key or (SigningKey() if server_name else None)
        self.valid_for_ms = valid_for_ms
        self.routes = dict(routes or {})
        self.key_server_name = key_server_name
        self.tamper_signature = tamper_signature
        self.extra_headers = list((extra_headers or {}).items())
        self.decode_paths = decode_paths

    def keys_doc(self):
        name = self.key_server_name or self.server_name
        doc = {'server_name': name, 'verify_keys': {self.signing_key.key_id: {'key': self.signing_key.public_b64}},
               'old_verify_keys': {}, 'valid_until_ts': int(time.time() * 1000) + self.valid_for_ms}
        self.signing_key.sign(doc, name)
        if self.tamper_signature:
            doc['valid_until_ts'] += 1
        return doc

    def intercept(self, answer):
        """Put `answer(req)` in front of this app, as a proxy or another implementation would be:
        a response it returns is served; None falls through to the routes and the homeserver."""
        inner = self.handle

        def handle(req):
            response = answer(req)
            return inner(req) if response is None else response

        self.handle = handle

    def handle(self, req):
        for key in ((req['method'], req['path']), req['path']):
            if key in self.routes:
                route = self.routes[key]
                return route(req) if callable(route) else route
        if self.server_name is None:
            return 404, [('Content-Type', 'text/html')], b'<html>not found</html>'
        path = req['path']
        if path == '/_matrix/key/v2/server':
            return json_response(200, self.keys_doc())
        if path == '/_matrix/federation/v1/version':
            return json_response(200, {'server': {'name': 'mxfed-test', 'version': '1.0'}})
        if req['method'] == 'PUT' and path.startswith('/_matrix/federation/v1/send/'):
            return json_response(401, {'errcode': 'M_UNAUTHORIZED', 'error': 'Missing Authorization headers'})
        if path.startswith(('/_matrix/federation/v1/query/', '/_matrix/federation/v1/media/')):
            return json_response(401, {'errcode': 'M_UNAUTHORIZED', 'error': 'Missing Authorization headers'})
        if req['method'] == 'POST' and path == '/_matrix/key/v2/query':
            return json_response(200, {'server_keys': []})
        if path.startswith('/_matrix/federation/v1/event/'):
            rest = path[len('/_matrix/federation/v1/event/'):]
            if self.decode_paths:
                from urllib.parse import unquote
                rest = unquote(rest)
            if '/' in rest:
                return json_response(404, {'errcode': 'M_UNRECOGNIZED', 'error': 'Unrecognized request'})
            return json_response(401, {'errcode': 'M_UNAUTHORIZED', 'error': 'Missing Authorization headers'})
        if path == '/_matrix/client/versions':
            return json_response(200, {'versions': ['v1.11']}, {'Access-Control-Allow-Origin': '*'})
        return json_response(404, {'errcode': 'M_UNRECOGNIZED', 'error': 'Unrecognized request'})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # keep test output clean
        pass

    def _serve(self):
        server = self.server.owner
        if server.delay:
            time.sleep(server.delay)
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        req = {'method': self.command, 'path': self.path, 'host': self.headers.get('Host'),
               'sni': getattr(self.connection, 'mxfed_sni', None), 'ip': server.ip, 'port': server.port,
               'body_size': len(body), 'time': time.time(), 'authorization': self.headers.get('Authorization'),
               'user_agent': self.headers.get('User-Agent'), 'body': body[:65536]}
        server.requests.append(req)
        status, headers, payload = server.app.handle(req)
        self.send_response(status)
        for name, value in list(headers) + server.app.extra_headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = _serve


class _TLSServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ctx, owner, family):
        self.address_family = family
        self.ctx = ctx
        self.owner = owner
        socketserver.TCPServer.__init__(self, addr, _Handler)

    def process_request_thread(self, request, client_address):
        # TLS handshake in the per-connection thread, so a slow client never blocks accept().
        try:
            request.settimeout(10)
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.shutdown_request(request)
            return
        tls.mxfed_sni = getattr(self.owner.local, 'sni', None)
        self.owner.connections += 1
        try:
            self.finish_request(tls, client_address)
        except Exception:  # pylint: disable=broad-except
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


class HttpsServer(object):
    def __init__(self, ip, port, certfile, keyfile, app, delay=0.0):
        self.delay = delay  # seconds added to the TLS handshake and to each response (simulated RTT)
        self.ip = ip
        self.port = port  # the logical port (e.g. 8448) the check believes it connects to
        self.app = app
        self.requests = []
        self.connections = 0
        self.local = threading.local()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)

        def sni_callback(_sslobj, name, _ctx):
            self.local.sni = name
            if self.delay:
                time.sleep(self.delay)

        ctx.sni_callback = sni_callback
        family = socket.AF_INET6 if ':' in ip else socket.AF_INET
        self.server = _TLSServer((ip, 0), ctx, self, family)
        self.real_port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def paths(self):
        return [r['path'] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Lab(object):
    def __init__(self, pki, dns_server, delay=0.0):
        self.delay = delay  # simulated RTT for TCP connect, TLS handshake and each HTTP response
        self.pki = pki
        self.dns = dns_server
        self.port_map = {}
        self.servers = []
        self.connects = []
        self._held = []  # sockets of blackhole() and silent() listeners, closed by close()

    def https(self, ip, port, names, app=None, expired=False, chain='full', days=90):
        certfile, keyfile = self.pki.leaf(list(names), expired=expired, chain=chain, days=days)
        server = HttpsServer(ip, port, certfile, keyfile, app or App(), delay=self.delay)
        self.port_map[(ip, port)] = (ip, server.real_port)
        self.servers.append(server)
        return server

    def closed(self, ip, port):
        """Map (ip, port) to a port where nothing listens (connection refused)."""
        self.port_map[(ip, port)] = (ip, free_port(ip))

    def blackhole(self, ip, port):
        """Map (ip, port) to a listener whose accept queue is full: the kernel drops new SYNs, so a
        connection attempt hangs until its timeout, as with a firewall that drops packets."""
        listener = socket.socket(socket.AF_INET6 if ':' in ip else socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((ip, 0))
        listener.listen(0)
        real = listener.getsockname()[1]
        fillers = []
        while len(fillers) < 3:
            filler = socket.socket(listener.family, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect((ip, real))
            except (BlockingIOError, OSError):
                pass
            fillers.append(filler)
        time.sleep(0.05)
        self._held.extend([listener] + fillers)
        self.port_map[(ip, port)] = (ip, real)

    def silent(self, ip, port):
        """Map (ip, port) to a listener that accepts connections and never sends a byte."""
        listener = socket.socket(socket.AF_INET6 if ':' in ip else socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((ip, 0))
        listener.listen(16)
        self._held.append(listener)

        def hold():
            while True:
                try:
                    conn, _peer = listener.accept()
                except OSError:
                    return
                self._held.append(conn)

        threading.Thread(target=hold, daemon=True).start()
        self.port_map[(ip, port)] = (ip, listener.getsockname()[1])

    def network(self, **kwargs):
        kwargs.setdefault('nameservers', [self.dns.ip])
        kwargs.setdefault('dns_port', self.dns.port)
        kwargs.setdefault('ca_path', self.pki.root_pem)
        kwargs.setdefault('timeout', 5.0)
        kwargs.setdefault('port_map', self.port_map)

        def connector(ip, port, timeout):
            self.connects.append((ip, port))
            if self.delay:
                time.sleep(self.delay)  # the TCP handshake's round trip
            return socket.create_connection((ip, port), timeout=timeout)

        kwargs.setdefault('connector', connector)
        return Network(**kwargs)

    def homeserver(self, server_name, ip, port=8448, cert_names=None, **app_kwargs):
        """A fake homeserver for `server_name` on (ip, port), cert for cert_names (default: the host)."""
        app = App(server_name=server_name, **app_kwargs)
        host = server_name.rsplit(':', 1)[0] if server_name.count(':') == 1 else server_name
        return self.https(ip, port, cert_names or [host], app=app)

    def direct_homeserver(self, server_name='example.test', ip='127.0.0.2', **app_kwargs):
        """The name resolved directly (spec step 6): its A record, nothing on (ip, 443) so there
        is no well-known, and a homeserver on (ip, 8448). Returns that server."""
        self.dns.add(server_name, 'A', ip)
        self.closed(ip, 443)
        return self.homeserver(server_name, ip, **app_kwargs)

    def well_known(self, host, ip, m_server=None, routes=None, client_base_url=None, names=None):
        """HTTPS on (ip, 443) serving /.well-known/matrix/server (and client) for host."""
        routes = dict(routes or {})
        if m_server is not None:
            routes.setdefault('/.well-known/matrix/server', json_response(200, {'m.server': m_server}))
        if client_base_url is not None:
            routes.setdefault('/.well-known/matrix/client', json_response(
                200, {'m.homeserver': {'base_url': client_base_url}}, {'Access-Control-Allow-Origin': '*'}))
        return self.https(ip, 443, names or [host], app=App(routes=routes))

    def close(self):
        for server in self.servers:
            server.close()
        self.servers = []
        for sock in self._held:
            sock.close()
        self._held = []


def make_pki():
    return Pki(tempfile.mkdtemp(prefix='mxfed-pki-'))
