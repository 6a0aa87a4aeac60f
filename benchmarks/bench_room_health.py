#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark of room health (not a test: it prints numbers).

A room of N servers simulated on loopback: a real DNS server and real TLS servers (from
tests/unit/_lab.py), every server name distinct with its own ed25519 signing key, a share of
them broken in different ways; and a stand-in for our Synapse's client and admin API (members,
destination records, profile queries) on its own TLS listener. DNS, the servers and the API
run in child processes, so their CPU does not slow the checker. A round-trip time is simulated
(--rtt-ms) on every DNS answer, TCP connect, TLS handshake and HTTP response.

Prints the wall time of room_health for the room (target on this 2-core machine: <= 15 s for
500 servers), the verdict counts per kind of breakage (each kind must be found), and the
checker's CPU time.
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import resource
import sys
import time
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'unit'))
sys.path.insert(0, os.path.join(REPO, '.ansible', 'collections'))

from _children import start_servers  # noqa: E402 pylint: disable=wrong-import-position
from _lab import App, DnsServer, Lab, SigningKey, json_response, make_pki  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.mxfed.federation.plugins.module_utils._api import HomeserverApi  # noqa: E402
from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_many  # noqa: E402
from ansible_collections.mxfed.federation.plugins.module_utils._room_health import room_health  # noqa: E402

DOMAIN = 'room.test'
GOOD_IPS = ['127.0.3.%d' % i for i in range(1, 9)]
CLOSED_IP = '127.0.4.1'  # nothing listens: connection refused
WRONG_CERT_IP = '127.0.4.2'  # a certificate for other names
SILENT_IP = '127.0.4.3'  # accepts, never answers: every request runs to its deadline
WRONG_KEYS_IP = '127.0.4.4'  # keys signed for another server name
API_IP = '127.0.4.9'
TOKEN = 'bench-token'
NOW_MS = int(time.time() * 1000)


def kind(i):
    """What is wrong with server i (a share of each kind; the rest are healthy)."""
    if i % 50 == 7:
        return 'silent'
    return {1: 'closed', 2: 'nxdomain', 3: 'wrong_cert', 4: 'wrong_keys'}.get(i % 20, 'healthy')


def name(i):
    return 's%d.%s' % (i, DOMAIN)


class ManyKeys(App):
    """One listener serving many server names, each with its own signing key."""

    def __init__(self, wrong=False):
        App.__init__(self, server_name='placeholder')
        self.keys = {}
        self.wrong = wrong

    def handle(self, req):
        host = (req['host'] or '').split(':')[0]
        if host not in self.keys:
            self.keys[host] = SigningKey()
        self.signing_key = self.keys[host]
        self.server_name = host
        self.key_server_name = 'someone-else.test' if self.wrong else host
        return App.handle(self, req)


class SynapseApi(object):
    def __init__(self, count):
        self.count = count

    def __call__(self, req):
        path = unquote(req['path'])
        if req['authorization'] != 'Bearer ' + TOKEN:
            return json_response(401, {'errcode': 'M_UNKNOWN_TOKEN', 'error': 'bad token'})
        if path == '/_matrix/client/v3/account/whoami':
            return json_response(200, {'user_id': '@admin:home.test'})
        if path.endswith('/members'):
            members = ['@admin:home.test'] + ['@u:%s' % name(i) for i in range(self.count)]
            return json_response(200, {'members': members, 'total': len(members)})
        prefix = '/_synapse/admin/v1/federation/destinations/'
        if path.startswith(prefix):
            index = int(path[len(prefix):].split('.')[0][1:])
            if kind(index) == 'healthy':
                return json_response(200, {'failure_ts': None, 'retry_last_ts': 0, 'retry_interval': 0})
            return json_response(200, {'failure_ts': NOW_MS - 3600000, 'retry_last_ts': NOW_MS - 60000,
                                       'retry_interval': 600000})
        if path.startswith('/_matrix/client/v3/profile/'):
            index = int(path.split(':')[1].split('.')[0][1:])
            if kind(index) == 'healthy':
                return json_response(200, {'displayname': 'u'})
            return json_response(502, {'errcode': 'M_UNKNOWN', 'error': 'Failed to fetch profile'})
        return json_response(404, {'errcode': 'M_UNRECOGNIZED', 'error': 'Unrecognized request'})


def serve_dns(conn, count, rtt):
    dns_server = DnsServer('127.0.0.53', delay=rtt)
    dns_server.add('matrix.home.test', 'A', API_IP)
    dns_server.add('home.test', 'A', GOOD_IPS[0])
    for i in range(count):
        ip = {'closed': CLOSED_IP, 'wrong_cert': WRONG_CERT_IP, 'silent': SILENT_IP,
              'wrong_keys': WRONG_KEYS_IP}.get(kind(i), GOOD_IPS[i % len(GOOD_IPS)])
        if kind(i) != 'nxdomain':
            dns_server.add(name(i), 'A', ip)
    conn.send(dns_server.port)
    conn.recv()


def serve_https(conn, count, rtt):
    lab = Lab(make_pki(), None, delay=rtt)
    for ip in GOOD_IPS:
        lab.https(ip, 8448, ['*.' + DOMAIN, 'home.test'], app=ManyKeys())
        lab.closed(ip, 443)  # no well-known: spec step 6, port 8448
    for ip in (CLOSED_IP, WRONG_CERT_IP, SILENT_IP, WRONG_KEYS_IP):
        lab.closed(ip, 443)
    lab.closed(CLOSED_IP, 8448)
    lab.https(WRONG_CERT_IP, 8448, ['*.other.test'], app=ManyKeys())
    lab.silent(SILENT_IP, 8448)
    lab.https(WRONG_KEYS_IP, 8448, ['*.' + DOMAIN], app=ManyKeys(wrong=True))
    api = App(routes={})
    api.intercept(SynapseApi(count))
    lab.https(API_IP, 443, ['matrix.home.test'], app=api)
    conn.send((lab.port_map, lab.pki.root_pem))
    conn.recv()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--servers', type=int, default=500, help='servers in the room (default 500)')
    parser.add_argument('--rtt-ms', type=float, default=30.0, help='simulated round-trip time in ms (default 30)')
    parser.add_argument('--timeout', type=float, default=2.0, help='the check timeout per step in s (default 2)')
    args = parser.parse_args()
    network, stop = start_servers(serve_dns, serve_https, args.servers, args.rtt_ms / 1000.0, args.timeout)
    try:
        def factory():
            return HomeserverApi(network, 'https://matrix.home.test', TOKEN)

        def check(names):
            return check_many(names, network, checks=('keys', 'version'), concurrency=32)

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        start_time = time.monotonic()
        out = room_health(factory, check, '!bench:home.test', now_ms=lambda: int(time.time() * 1000))
        wall = time.monotonic() - start_time
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        stop()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    by_kind = {}
    for server in out['servers']:
        if server['own']:
            continue
        index = int(server['server_name'].split('.')[0][1:])
        entry = by_kind.setdefault(kind(index), {'servers': 0, 'unreachable': 0, 'backing_off': 0, 'outbound_failed': 0})
        entry['servers'] += 1
        entry['unreachable'] += not server['federation_ok']
        entry['backing_off'] += bool((server['backoff'] or {}).get('backing_off'))
        entry['outbound_failed'] += (server['outbound'] or {}).get('ok') is False
    print('room of %d servers, RTT %.0f ms, timeout %.1f s' % (args.servers, args.rtt_ms, args.timeout))
    print('  room_health wall %.2f s (target <= 15 s on 2 cores), checker CPU %.2f s (%.1f ms per server)'
          % (wall, cpu, 1000.0 * cpu / max(1, args.servers)))
    wrong = 0
    for name_of_kind in sorted(by_kind):
        entry = by_kind[name_of_kind]
        expected = 0 if name_of_kind == 'healthy' else entry['servers']
        wrong += entry['unreachable'] != expected
        print('  %-10s servers %4d  unreachable %4d (expected %4d)  backing off %4d  outbound failed %4d'
              % (name_of_kind, entry['servers'], entry['unreachable'], expected, entry['backing_off'],
                 entry['outbound_failed']))
    print('  verdicts as expected: %s' % ('yes' if not wrong else 'NO (%d kinds differ)' % wrong))
    return 0 if not wrong else 1


if __name__ == '__main__':
    sys.exit(main())
