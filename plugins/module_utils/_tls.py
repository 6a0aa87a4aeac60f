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

import os
import re
import select
import socket
import ssl
import stat
import time

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    ConnectUnreachableError,
    TlsError,
    TlsTimeoutError,
    TransportError,
    short_error,
)
from ansible_collections.mxfed.federation.plugins.module_utils._x509 import (
    HAS_CRYPTOGRAPHY,
    describe_certificate,
    load_der_certificate,
)


# What ca_path may hold: a CA bundle is some hundred KiB (Debian's has 150 roots in 220 KiB).
CA_MAX_BYTES = 8 * 1024 * 1024
CA_MAX_FILES = 4096
_PEM_CERT = re.compile(r'-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----')


class CaPathError(OSError):
    """ca_path cannot be used; the message says why and what it must be."""

    def __init__(self, message):
        super(CaPathError, self).__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def _read_regular(path, budget):
    """Text of a regular file, at most `budget` bytes; never blocks (O_NONBLOCK, so a FIFO put
    there after the check cannot hang us), never follows into a device."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0))
    except OSError as exc:
        raise CaPathError('cannot open %s: %s' % (path, exc.strerror or exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CaPathError('%s is not a regular file' % path)
        if info.st_size > budget:
            raise CaPathError('%s is larger than %d bytes' % (path, budget))
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > budget:
                raise CaPathError('%s is larger than %d bytes' % (path, budget))
            chunks.append(chunk)
    except OSError as exc:
        if isinstance(exc, CaPathError):
            raise
        raise CaPathError('cannot read %s: %s' % (path, exc.strerror or exc))
    finally:
        os.close(fd)
    return b''.join(chunks).decode('ascii', 'replace')


def read_ca_path(path, max_bytes=CA_MAX_BYTES):
    """The PEM certificates of ca_path as one string for load_verify_locations(cadata=...).

    ca_path is a regular file of PEM certificates, or a directory whose regular files are read
    (those without a certificate, such as a README, are skipped): OpenSSL's capath needs
    c_rehash names, which a directory of *.pem files does not have. Anything else (a FIFO, a
    device, a socket) is refused before it is opened; everything read is capped at `max_bytes`.
    Raises CaPathError with a sentence for the operator."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CaPathError('%s does not exist or cannot be read (%s)' % (path, exc.strerror or exc))
    if stat.S_ISREG(info.st_mode):
        files = [path]
    elif stat.S_ISDIR(info.st_mode):
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            raise CaPathError('cannot list the directory %s: %s' % (path, exc.strerror or exc))
        files = []
        for name in names:
            full = os.path.join(path, name)
            try:
                if stat.S_ISREG(os.stat(full).st_mode):
                    files.append(full)
            except OSError:
                continue  # a dangling link: not a certificate
        if len(files) > CA_MAX_FILES:
            raise CaPathError('the directory %s has %d files, more than %d' % (path, len(files), CA_MAX_FILES))
    else:
        raise CaPathError('%s is neither a regular file nor a directory' % path)
    certs = []
    seen = set()
    budget = max_bytes
    for name in files:
        text = _read_regular(name, budget)
        budget -= len(text)
        for pem in _PEM_CERT.findall(text):
            if pem not in seen:
                seen.add(pem)
                certs.append(pem)
    if not certs:
        raise CaPathError('%s contains no PEM certificate (-----BEGIN CERTIFICATE-----)' % path)
    data = '\n'.join(certs) + '\n'
    try:
        ssl.create_default_context().load_verify_locations(cadata=data)
    except (ssl.SSLError, ValueError) as exc:
        raise CaPathError('%s holds a certificate OpenSSL cannot load: %s' % (path, short_error(exc)))
    return data


def make_context(verify, ca_path=None, ca_data=None):
    """An SSL context for verified connections, or (verify=False) for reading a chain to explain it.

    ca_path (a PEM file or a directory of them, read by read_ca_path) or ca_data (PEM text) add
    trusted CAs to the system's."""
    if verify:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        # The name is checked by us on the verified leaf (match_certificate_name) so the
        # report can say "wrong name" separately from "untrusted chain".
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_path and ca_data is None:
            ca_data = read_ca_path(ca_path)
        if ca_data:
            ctx.load_verify_locations(cadata=ca_data)
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

    def _time_left(self, deadline):
        """Seconds for the next blocking step: the timeout, or less before `deadline` (a
        time.monotonic() value); None when the deadline has passed."""
        if deadline is None:
            return self.timeout
        left = min(self.timeout, deadline - time.monotonic())
        return left if left > 0 else None

    def connect_tcp(self, ip, port, deadline=None):
        target = self.port_map.get((ip, port), (ip, port))
        timeout = self._time_left(deadline)
        if timeout is None:
            raise ConnectTimeoutError('TCP connection to %s port %d not attempted: no time left' % (ip, port))
        try:
            if self._connector is not None:
                sock = self._connector(target[0], target[1], timeout)
            else:
                sock = socket.create_connection(target, timeout=timeout)
        except socket.timeout:
            raise ConnectTimeoutError('TCP connection to %s port %d timed out after %.1f s' % (ip, port, timeout))
        except OSError as exc:
            error = ConnectRefusedError if isinstance(exc, ConnectionRefusedError) else ConnectUnreachableError
            raise error('TCP connection to %s port %d failed: %s' % (ip, port, exc.strerror or exc))
        try:
            # Small requests: do not let Nagle + delayed ACK add 40 ms per request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return sock

    def _handshake(self, ctx, raw, sni, deadline):
        """The TLS handshake on the wall clock. A blocking handshake is bounded only per read by
        OpenSSL, so a server trickling its handshake a byte at a time could stretch it far past
        the timeout: here the socket is non-blocking and every wait for the server is bounded
        by the time left."""
        end = time.monotonic() + self.timeout
        if deadline is not None:
            end = min(end, deadline)
        raw.setblocking(False)
        try:
            sock = ctx.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False)
        except (ssl.SSLError, OSError):
            raw.close()
            raise
        try:
            while True:
                wait = ([sock], [])
                try:
                    sock.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLWantWriteError:
                    wait = ([], [sock])
                left = end - time.monotonic()
                if left <= 0 or not any(select.select(wait[0], wait[1], [], left)[:2]):
                    raise socket.timeout('handshake deadline')
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def connect_tls(self, ip, port, sni, deadline=None):
        """TCP + verified TLS. Returns (sslsocket, TlsInfo). Verification failures are explained.

        The connect and the handshake each end within `timeout` seconds, both by `deadline` (a
        time.monotonic() value) when given."""
        started = time.monotonic()
        raw = self.connect_tcp(ip, port, deadline)
        try:
            sock = self._handshake(self._verify_ctx, raw, sni, deadline)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            info = TlsInfo(verified=False, verify_code=exc.verify_code, verify_message=exc.verify_message)
            self._diagnose(ip, port, sni, info, deadline)
            return None, info
        except socket.timeout:
            # The server accepted the connection and never completed the handshake: peers hang
            # on it until their deadline, which is not a TLS problem but a timeout.
            raw.close()
            raise TlsTimeoutError('TLS handshake with %s port %d did not complete within %.1f s'
                                  % (ip, port, time.monotonic() - started))
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            raise TlsError('TLS handshake with %s port %d failed: %s' % (ip, port, short_error(exc)))
        info = TlsInfo(verified=True)
        info.fill_from_socket(sock)
        return sock, info

    def _diagnose(self, ip, port, sni, info, deadline=None):
        try:
            raw = self.connect_tcp(ip, port, deadline)
        except TransportError:
            return
        try:
            sock = self._handshake(self._diag_ctx, raw, sni, deadline)
        except (ssl.SSLError, OSError):
            raw.close()
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
