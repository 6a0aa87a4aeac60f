# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Hostile servers on loopback and a child process that runs one client call and measures it.

The servers run in the test process (threads); the client (HttpSession or DnsClient) runs in a
fresh Python process (tests/unit/_child.py) so that its peak RSS is its own: the child reports its
wall time and /proc/self/status VmHWM. A test then asserts a wall-time bound and a memory bound.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import socket
import subprocess
import sys
import threading

import dns.flags
import dns.message
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS_ROOT = os.path.join(os.path.dirname(os.path.dirname(HERE)), '.ansible', 'collections')

PEAK_RSS_LIMIT_MB = 100


def run_child(spec, timeout=60):
    """Run one client call in a child process; returns its report (dict with result, wall, peak_mb)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([COLLECTIONS_ROOT] + [p for p in sys.path if p])
    proc = subprocess.run([sys.executable, os.path.join(HERE, '_child.py'), json.dumps(spec)],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError('child failed (rc %d): %s' % (proc.returncode, proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


class TcpServer(object):
    """Accepts on 127.0.0.1 and runs behaviour(conn) per connection in a thread."""

    def __init__(self, behaviour, ip='127.0.0.1', port=0):
        self.behaviour = behaviour
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(8)
        self.ip, self.port = self.sock.getsockname()
        self.stop = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.behaviour(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def read_request_head(conn):
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    return data


def stream_forever(conn, stop, piece, pause=0.0):
    """Send `piece` again and again until the client goes away or the test ends."""
    while not stop.is_set():
        conn.sendall(piece)
        if pause:
            stop.wait(pause)


class UdpDns(object):
    """A UDP DNS listener on (ip, port) whose behaviour(sock, wire, peer, stop) decides; optionally a TCP
    listener on the same port running tcp_behaviour(conn, stop)."""

    def __init__(self, ip, port, behaviour, tcp_behaviour=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.ip, self.port = self.sock.getsockname()
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.queries = 0
        threading.Thread(target=self._serve, daemon=True).start()
        self.tcp = TcpServer(tcp_behaviour, ip, self.port) if tcp_behaviour else None

    def _serve(self):
        while not self.stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            self.queries += 1
            threading.Thread(target=self._one, args=(wire, peer), daemon=True).start()

    def _one(self, wire, peer):
        try:
            self.behaviour(self.sock, wire, peer, self.stop)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.sock.close()
        if self.tcp:
            self.tcp.close()


def answer_a(wire, address='192.0.2.7'):
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 300, 'IN', 'A', address))
    return response


def truncated(wire):
    response = dns.message.make_response(dns.message.from_wire(wire))
    response.flags |= dns.flags.TC
    return response.to_wire()


def same_port_on(ips):
    """A UDP port free on every one of `ips` (DnsClient asks all its nameservers on one port)."""
    for _attempt in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((ips[0], 0))
        port = probe.getsockname()[1]
        probe.close()
        ok = True
        for ip in ips:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                test = socket.socket(socket.AF_INET, kind)
                try:
                    test.bind((ip, port))
                except OSError:
                    ok = False
                finally:
                    test.close()
        if ok:
            return port
    raise RuntimeError('no common free port')
