#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark of the delegation check (not a test: it prints numbers).

Serves N server names from the loopback lab of tests/unit/_lab.py (a real DNS server and HTTPS
servers with a test CA). Loopback has no latency, which would hide what concurrency buys, so a
round-trip time is simulated (--rtt-ms): the DNS server, the TCP connect, the TLS handshake and
each HTTP response each wait one RTT.

Prints:
  1. one healthy check vs the round trips the algorithm cannot avoid, measured in the same run
     with the same primitives, one after another (target: check <= 1.5 x round trips);
  2. N names checked concurrently vs one after another (target: >= 10x faster).
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'unit'))
sys.path.insert(0, os.path.join(REPO, '.ansible', 'collections'))

from _children import start_servers  # noqa: E402 pylint: disable=wrong-import-position
from _lab import App, DnsServer, Lab, SigningKey, json_response, make_pki  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.mxfed.federation.plugins.module_utils._discovery import (  # noqa: E402 pylint: disable=wrong-import-position
    check_many,
    check_server,
)
from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession  # noqa: E402

DOMAIN = 'bench.test'
WK_IP = '127.0.0.2'
HS_IPS = ['127.0.1.%d' % i for i in range(1, 9)]


class BenchHomeserver(App):
    """One listener serving many server names: the keys name the server the Host header asks for."""

    def __init__(self, signing_key):
        App.__init__(self, server_name='placeholder', signing_key=signing_key)

    def handle(self, req):
        if req['path'] == '/_matrix/key/v2/server':
            host = req['host'].split(':')[0]  # hs17.bench.test or matrix.name17.bench.test
            index = host.split('.')[-3].replace('hs', '').replace('name', '')
            self.key_server_name = 'name%s.%s' % (index, DOMAIN)
        return App.handle(self, req)


def zone(dns_server, count):
    for i in range(count):
        name = 'name%d.%s' % (i, DOMAIN)
        dns_server.add(name, 'A', WK_IP)
        dns_server.add('hs%d.%s' % (i, DOMAIN), 'A', HS_IPS[i % len(HS_IPS)])
        if not i % 2:
            dns_server.add_srv('_matrix-fed._tcp.matrix.%s' % name, 'hs%d.%s' % (i, DOMAIN), 8449)


def build_https(lab, count):
    key = SigningKey()

    def well_known(req):
        index = req['host'].split('.')[0].replace('name', '')
        if int(index) % 2:
            return json_response(200, {'m.server': 'hs%s.%s:8448' % (index, DOMAIN)})  # step 3.2
        return json_response(200, {'m.server': 'matrix.name%s.%s' % (index, DOMAIN)})  # step 3.3 (SRV)

    lab.https(WK_IP, 443, ['*.' + DOMAIN], app=App(routes={'/.well-known/matrix/server': well_known}))
    for ip in HS_IPS:
        lab.https(ip, 8448, ['*.' + DOMAIN], app=BenchHomeserver(key))  # hsN.bench.test:8448 (step 3.2)
    # SRV-delegated names (step 3.3) need certificates for matrix.nameN.bench.test, not the SRV
    # target: one certificate naming all of them, on port 8449.
    for ip in HS_IPS:
        lab.https(ip, 8449, ['matrix.name%d.%s' % (i, DOMAIN) for i in range(0, count, 2)], app=BenchHomeserver(key))


def serve_dns(conn, count, rtt):
    dns_server = DnsServer('127.0.0.53', delay=rtt)
    zone(dns_server, count)
    conn.send(dns_server.port)
    conn.recv()


def serve_https(conn, count, rtt):
    lab = Lab(make_pki(), None, delay=rtt)
    build_https(lab, count)
    conn.send((lab.port_map, lab.pki.root_pem))
    conn.recv()


def unavoidable_round_trips(network, name):
    """The minimum sequence the spec needs for `name`, timed with the same primitives the check uses."""
    index = int(name.split('.')[0].replace('name', ''))
    start = time.monotonic()
    wk_ip = network.lookup(name, 'A').records[0]['address']
    sock, _info = network.connect_tls(wk_ip, 443, name)
    session = HttpSession(network, wk_ip, 443, name, name, sock=sock)
    session.request('GET', '/.well-known/matrix/server')
    session.close()
    if index % 2:
        target, port, host_header = 'hs%d.%s' % (index, DOMAIN), 8448, 'hs%d.%s:8448' % (index, DOMAIN)
        sni = 'hs%d.%s' % (index, DOMAIN)
    else:
        delegated = 'matrix.%s' % name
        srv = network.lookup('_matrix-fed._tcp.' + delegated, 'SRV').records[0]
        target, port, host_header, sni = srv['target'].rstrip('.'), srv['port'], delegated, delegated
    ip = network.lookup(target, 'A').records[0]['address']
    sock, _info = network.connect_tls(ip, port, sni)
    session = HttpSession(network, ip, port, sni, host_header, sock=sock)
    response = session.request('GET', '/_matrix/key/v2/server')
    session.close()
    if response.status != 200:
        raise RuntimeError('keys request failed: HTTP %d' % response.status)
    return time.monotonic() - start


def median_time(func, repeat):
    times = []
    for _round in range(repeat):
        start = time.monotonic()
        func()
        times.append(time.monotonic() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--names', type=int, default=200, help='server names to check (default 200)')
    parser.add_argument('--rtt-ms', type=float, default=30.0, help='simulated round-trip time in ms (default 30)')
    parser.add_argument('--concurrency', type=int, default=25, help='names checked at once (default 25)')
    parser.add_argument('--repeat', type=int, default=7, help='repetitions for the single-check medians (default 7)')
    parser.add_argument('--checks', default='keys', help='comma-separated optional check groups (default keys)')
    parser.add_argument('--skip-strict', action='store_true', help='skip the strictly sequential run (the slowest)')
    args = parser.parse_args()
    rtt = args.rtt_ms / 1000.0
    checks = tuple(c for c in args.checks.split(',') if c)

    network, stop = start_servers(serve_dns, serve_https, args.names, rtt, 30.0)
    names = ['name%d.%s' % (i, DOMAIN) for i in range(args.names)]
    try:
        # Sanity: every name passes.
        for probe in names[:2]:
            result = check_server(probe, network, checks=checks)
            if not result['federation_ok']:
                print(result['summary'])
                return 1
        print('delegation_check benchmark: %d names, simulated RTT %.1f ms, checks=%s, %d CPUs'
              % (args.names, args.rtt_ms, ','.join(checks) or 'none', os.cpu_count() or 1))
        print()
        print('1. one healthy check vs the round trips it cannot avoid (median of %d)' % args.repeat)
        for probe, label in ((names[1], 'step 3.2 (well-known with port)'), (names[0], 'step 3.3 (well-known + SRV)')):
            floor = median_time(lambda p=probe: unavoidable_round_trips(network, p), args.repeat)
            check = median_time(lambda p=probe: check_server(p, network, checks=checks), args.repeat)
            print('   %-34s round trips %7.1f ms   check %7.1f ms   ratio %.2f (target <= 1.5)'
                  % (label, floor * 1000, check * 1000, check / floor))
        print()
        print('2. %d names: concurrently vs one after another' % args.names)
        start = time.monotonic()
        cpu_start = time.process_time()
        results = check_many(names, network, checks=checks, concurrency=args.concurrency)
        concurrent = time.monotonic() - start
        cpu_per_name = (time.process_time() - cpu_start) / args.names
        failed = [r['server_name'] for r in results if not r['federation_ok']]
        rows = [('concurrent: %d names at once' % args.concurrency, concurrent)]
        start = time.monotonic()
        failed += [r['server_name'] for r in check_many(names, network, checks=checks, concurrency=1)
                   if not r['federation_ok']]
        one_by_one = time.monotonic() - start
        rows.append(('one name after another', one_by_one))
        if not args.skip_strict:
            start = time.monotonic()
            failed += [r['server_name'] for r in check_many(names, network, checks=checks, concurrency=1, workers=1)
                       if not r['federation_ok']]
            rows.append(('one after another, 1 worker thread per check', time.monotonic() - start))
        for label, seconds in rows:
            print('   %-50s %8.2f s  %7.1f ms per name  ratio %5.1fx'
                  % (label, seconds, seconds / args.names * 1000, seconds / concurrent))
        print('   failed checks: %d (expected 0); target: concurrent >= 10x faster' % len(failed))
        print('   checker CPU %.1f ms per name; with one interpreter (GIL) the ratio is bounded by'
              ' time per name / CPU per name' % (cpu_per_name * 1000))
    finally:
        stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
