# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""DNS for the delegation check: dnspython builds and parses the messages, the exchange is ours.

Each answer keeps SERVFAIL, NXDOMAIN, no data and timeouts apart, because the spec's steps
(and Synapse's srv_resolver) treat them differently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
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

from ansible_collections.mxfed.federation.plugins.module_utils._errors import short_error


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


class DnsClient(object):
    """Asks the configured nameservers (None = the system's resolv.conf) on `port`."""

    def __init__(self, nameservers=None, port=53, timeout=10.0):
        if not HAS_DNSPYTHON:
            raise RuntimeError('dnspython is required')
        self.timeout = float(timeout)
        self.port = int(port)
        if nameservers:
            self.nameservers = [str(ipaddress.ip_address(ns)) for ns in nameservers]
        else:
            # The system's resolv.conf, read by dnspython once.
            self.nameservers = [str(ns) for ns in dns.resolver.Resolver(configure=True).nameservers]

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
            return DnsAnswer(name, rdtype, 'error', error=short_error(exc))
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
                    problems.append('%s: %s' % (server, 'timeout' if isinstance(exc, socket.timeout) else short_error(exc)))
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
            sock.connect((server, self.port))  # only answers from that server are accepted
            sock.send(wire)
            while True:
                response = dns.message.from_wire(sock.recv(65535), ignore_trailing=True)
                if query.is_response(response):
                    return response
        finally:
            sock.close()

    def _tcp(self, wire, query, server, timeout):
        sock = socket.create_connection((server, self.port), timeout=timeout)
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
                sock.connect((server, self.port))
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
