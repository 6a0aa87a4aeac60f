# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""The delegation check's one handle on the network: DNS (_dns) and TCP/TLS (_tls) together.

HTTP sessions (_http) take this object to reconnect. Tests inject a connector or a port map
through it; production uses the identity.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mxfed.federation.plugins.module_utils._dns import DnsClient
from ansible_collections.mxfed.federation.plugins.module_utils._tls import Dialer


class Network(object):
    """Everything that touches the network, configurable and injectable.

    nameservers: list of IP strings (None = system resolver); dns_port: port of those nameservers.
    connector(ip, port, timeout) -> connected socket; port_map {(ip, port): (ip, port)} rewrites
    the destination before connecting (tests only; production is the identity).
    ip_version: '4', '6' or 'any': which address records the check asks for.
    """

    def __init__(self, nameservers=None, dns_port=53, ca_path=None, timeout=10.0, ip_version='any',
                 connector=None, port_map=None):
        self.dns = DnsClient(nameservers=nameservers, port=dns_port, timeout=timeout)
        self.dialer = Dialer(ca_path=ca_path, timeout=timeout, connector=connector, port_map=port_map)
        self.timeout = float(timeout)
        self.ip_version = str(ip_version)
        self.ca_path = ca_path
        self.port_map = self.dialer.port_map
        self.dns_port = self.dns.port
        self.nameservers = self.dns.nameservers

    def lookup(self, name, rdtype, deadline=None):
        """A DnsAnswer within `timeout` seconds (or by `deadline`, a time.monotonic() value)."""
        return self.dns.lookup(name, rdtype, deadline=deadline)

    def lookup_many(self, questions, deadline=None):
        """DnsAnswers in question order, all within `timeout` seconds (or by `deadline`)."""
        return self.dns.lookup_many(questions, deadline=deadline)

    def address_types(self):
        if self.ip_version == '4':
            return ['A']
        if self.ip_version == '6':
            return ['AAAA']
        return ['A', 'AAAA']

    def connect_tcp(self, ip, port, deadline=None):
        return self.dialer.connect_tcp(ip, port, deadline)

    def connect_tls(self, ip, port, sni, deadline=None):
        """TCP + verified TLS. Returns (sslsocket, TlsInfo); (None, info) when verification failed.
        Connect and handshake each within `timeout` seconds, and by `deadline` when given."""
        return self.dialer.connect_tls(ip, port, sni, deadline=deadline)
