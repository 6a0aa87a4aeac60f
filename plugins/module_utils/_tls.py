# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""TCP and TLS connections to an exact IP and port with a chosen SNI, and what the handshake showed.

We open sockets ourselves because the check must choose the IP, the port and the TLS SNI
independently (spec server-server-api.md "Resolving server names"). Tests inject a connector
or a port map so that port 8448 of 127.0.0.x can be served by an unprivileged test port.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import ssl

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    ConnectUnreachableError,
    RequestTimeoutError,
    TlsError,
    TransportError,
    short_error,
)
from ansible_collections.mxfed.federation.plugins.module_utils._x509 import (
    HAS_CRYPTOGRAPHY,
    describe_certificate,
    load_der_certificate,
)


def make_context(verify, ca_path=None):
    """An SSL context for verified connections, or (verify=False) for reading a chain to explain it."""
    if verify:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        # The name is checked by us on the verified leaf (match_certificate_name) so the
        # report can say "wrong name" separately from "untrusted chain".
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_path:
            ctx.load_verify_locations(cafile=ca_path)
    else:
        # Diagnostic only: used after a verified handshake failed, to read the chain the
        # server sends and explain why. Nothing learnt over it counts as a pass.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(['http/1.1'])
    return ctx


class Dialer(object):
    """Opens TCP and verified TLS connections.

    connector(ip, port, timeout) -> connected socket; port_map {(ip, port): (ip, port)} rewrites
    the destination before connecting (tests only; production is the identity).
    """

    def __init__(self, ca_path=None, timeout=10.0, connector=None, port_map=None):
        self.timeout = float(timeout)
        self.ca_path = ca_path
        self.port_map = dict(port_map or {})
        self._connector = connector
        self._verify_ctx = make_context(verify=True, ca_path=ca_path)
        self._diag_ctx = make_context(verify=False)

    def connect_tcp(self, ip, port):
        target = self.port_map.get((ip, port), (ip, port))
        try:
            if self._connector is not None:
                sock = self._connector(target[0], target[1], self.timeout)
            else:
                sock = socket.create_connection(target, timeout=self.timeout)
        except socket.timeout:
            raise ConnectTimeoutError('TCP connection to %s port %d timed out after %.0f s' % (ip, port, self.timeout))
        except OSError as exc:
            error = ConnectRefusedError if isinstance(exc, ConnectionRefusedError) else ConnectUnreachableError
            raise error('TCP connection to %s port %d failed: %s' % (ip, port, exc.strerror or exc))
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
        except socket.timeout:
            # The server accepted the connection and never answered the handshake: peers hang
            # on it until their deadline, which is not a TLS problem but a timeout.
            raw.close()
            raise RequestTimeoutError('TLS handshake with %s port %d got no answer within %.0f s' % (ip, port, self.timeout))
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            raise TlsError('TLS handshake with %s port %d failed: %s' % (ip, port, short_error(exc)))
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
                self.leaf = load_der_certificate(chain[0])
            except ValueError:
                self.leaf = None

    def sends_issuer_of_leaf(self):
        """Whether the certificates sent after the leaf include the leaf's issuer."""
        if self.leaf is None:
            return False
        for der in self.chain[1:]:
            try:
                if load_der_certificate(der).subject == self.leaf.issuer:
                    return True
            except ValueError:
                continue
        return False

    def chain_summary(self):
        out = []
        for der in self.chain:
            try:
                cert = load_der_certificate(der)
            except ValueError:
                out.append({'error': 'unparsable certificate'})
                continue
            out.append(describe_certificate(cert))
        return out
