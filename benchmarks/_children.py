# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start a benchmark's loopback DNS and HTTPS servers in child processes (so their CPU and GIL
do not slow the code measured) and the Network that reaches them. Shared by the benchmarks."""

from __future__ import absolute_import, division, print_function

import multiprocessing
import socket
import time

from ansible_collections.mxfed.federation.plugins.module_utils._network import Network


def start_servers(serve_dns, serve_https, count, rtt, timeout):
    """Run serve_dns(conn, count, rtt) and serve_https(conn, count, rtt) in forked children.

    serve_dns sends its port, serve_https (port_map, root_pem), then each waits for 'stop'.
    Returns (network, stop): a Network with `rtt` seconds added to each TCP connect and the
    given per-request timeout, and a function that stops both children."""
    ctx = multiprocessing.get_context('fork')
    children, answers = [], []
    for target in (serve_dns, serve_https):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=target, args=(child, count, rtt), daemon=True)
        proc.start()
        children.append((proc, parent))
        answers.append(parent.recv())
    dns_port, (port_map, root_pem) = answers

    def connector(ip, port, connect_timeout):
        if rtt:
            time.sleep(rtt)  # the TCP handshake's round trip
        return socket.create_connection((ip, port), timeout=connect_timeout)

    network = Network(nameservers=['127.0.0.53'], dns_port=dns_port, ca_path=root_pem, timeout=timeout,
                      port_map=port_map, connector=connector)

    def stop():
        for proc, parent in children:
            parent.send('stop')
            proc.join(5)

    return network, stop
