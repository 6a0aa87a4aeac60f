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
from concurrent.futures import ThreadPoolExecutor

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

# Fallback lookups of one lookup_many() call that run at once (they share one deadline, so more
# questions than this cannot stretch the call either).
MAX_PARALLEL_LOOKUPS = 32


class _DnsFailure(Exception):
    def __init__(self, status, detail):
        super(_DnsFailure, self).__init__(detail)
        self.status = status
        self.detail = detail


def _time_left(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout('timeout')
    return left


def _recv_exactly(sock, count, deadline):
    """`count` bytes, each recv bounded by the time left: a trickled answer cannot outlast it."""
    data = b''
    while len(data) < count:
        sock.settimeout(_time_left(deadline))
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError('connection closed')
        data += chunk
    return data


def make_query(name, rdtype):
    """(query, None), or (None, DnsAnswer with status 'error') for a name DNS cannot carry.

    dnspython raises for labels over 63 octets, names over 255 octets, empty labels (`a..test`,
    `.0`), bad escapes and names IDNA cannot encode; a lookup reports those instead."""
    qname = name if name.endswith('.') else name + '.'
    try:
        return dns.message.make_query(qname, rdtype, use_edns=0, payload=1232), None
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        return None, DnsAnswer(name, rdtype, 'error', error='%s cannot be looked up: %s' % (_shown(name), _name_problem(exc)))


def _shown(name):
    return repr(name if len(name) <= 80 else name[:77] + '...')


def _name_problem(exc):
    if isinstance(exc, dns.name.LabelTooLong):
        return 'a DNS label is longer than 63 characters'
    if isinstance(exc, dns.name.NameTooLong):
        return 'the name is longer than DNS allows (255 octets)'
    if isinstance(exc, dns.name.EmptyLabel):
        return 'the name has an empty label (two dots in a row, or a leading dot)'
    return 'not a valid DNS name (%s)' % short_error(exc)


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

    def lookup(self, name, rdtype, deadline=None):
        """Ask one question; SERVFAIL, NXDOMAIN, no data and timeouts are kept apart.

        dnspython builds and parses the messages; the exchange is ours (UDP, TCP when truncated,
        every nameserver in turn): it costs less than half the CPU of dns.resolver, which matters
        when many names are checked at once, and never hides SERVFAIL behind "no answer".

        Returns within `timeout` seconds of wall-clock time (or by `deadline`, a time.monotonic()
        value, if earlier), whatever the servers send. Never raises for a bad name.
        """
        query, refused = make_query(name, rdtype)
        if query is None:
            return refused
        own = time.monotonic() + self.timeout
        deadline = own if deadline is None else min(deadline, own)
        try:
            response = self._exchange(query, deadline)
        except _DnsFailure as exc:
            return DnsAnswer(name, rdtype, exc.status, error=exc.detail)
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, rdtype, 'error', error=short_error(exc))
        return self._answer(name, rdtype, response, query)

    def _answer(self, name, rdtype, response, query):
        if response.rcode() == dns.rcode.NXDOMAIN:
            return DnsAnswer(name, rdtype, 'nxdomain')
        wanted = query.question[0].rdtype
        canonical = query.question[0].name
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

    def _exchange(self, query, deadline):
        """The answer of the first nameserver that gives a usable one, before `deadline`.

        Fail-over: in the first round each nameserver gets an equal share of the time left (at
        most 2 s), so a dead first server cannot use the whole budget; a second round, with what
        is left, asks those that did not answer. Answers with a wrong ID or from elsewhere are
        ignored without extending anything: every recv is bounded by the time left."""
        wire = query.to_wire()
        problems = []
        refused = 0
        rounds = [list(self.nameservers), []]
        out_of_time = False
        for current in rounds:
            for index, server in enumerate(current):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    out_of_time = True
                    break
                share = min(2.0, remaining / (len(current) - index))
                try:
                    response = self._udp(wire, query, server, time.monotonic() + share)
                    if response.flags & dns.flags.TC:
                        response = self._tcp(wire, query, server, deadline)
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
        if (problems or out_of_time) and all(p.endswith('timeout') for p in problems):
            raise _DnsFailure('timeout', '; '.join(problems) or 'no time left for this lookup')
        raise _DnsFailure('error', '; '.join(problems) or 'no nameserver answered')

    def _udp(self, wire, query, server, deadline):
        family = socket.AF_INET6 if ':' in server else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.connect((server, self.port))  # only answers from that server are accepted
            sock.send(wire)
            while True:
                sock.settimeout(_time_left(deadline))
                packet = sock.recv(65535)
                try:
                    response = dns.message.from_wire(packet, ignore_trailing=True)
                except dns.exception.DNSException:
                    continue  # garbage or a spoofing attempt: keep waiting for the real answer
                if query.is_response(response):
                    return response
        finally:
            sock.close()

    def _tcp(self, wire, query, server, deadline):
        sock = socket.create_connection((server, self.port), timeout=_time_left(deadline))
        try:
            sock.settimeout(_time_left(deadline))
            sock.sendall(struct.pack('!H', len(wire)) + wire)
            (length,) = struct.unpack('!H', _recv_exactly(sock, 2, deadline))
            response = dns.message.from_wire(_recv_exactly(sock, length, deadline))
            if not query.is_response(response):
                raise dns.exception.DNSException('unexpected TCP answer')
            return response
        finally:
            sock.close()

    def lookup_many(self, questions, deadline=None):
        """Several (name, rdtype) questions in one round trip: all queries go out on one UDP socket
        to the first nameserver. Anything unusual (truncation, SERVFAIL, no answer in time) is asked
        again on its own through lookup(), which tries every nameserver and TCP; those run in
        parallel. The whole call ends within `timeout` seconds of wall-clock time, or by
        `deadline` (a time.monotonic() value) if earlier."""
        own = time.monotonic() + self.timeout
        deadline = own if deadline is None else min(deadline, own)
        results = [None] * len(questions)
        queries = [None] * len(questions)
        for index, (name, rdtype) in enumerate(questions):
            queries[index], results[index] = make_query(name, rdtype)
        batch = [index for index, query in enumerate(queries) if query is not None]
        if len(batch) > 1 and self.nameservers:
            # The first server's share of the budget, as in _exchange: a dead first server
            # leaves the rest for the others.
            share = min(2.0, max(0.0, deadline - time.monotonic()) / (len(self.nameservers) + 1))
            self._batch(questions, queries, results, batch, time.monotonic() + share)
        missing = [index for index, answer in enumerate(results) if answer is None]
        if len(missing) == 1:
            index = missing[0]
            results[index] = self.lookup(questions[index][0], questions[index][1], deadline=deadline)
        elif missing:
            with ThreadPoolExecutor(max_workers=min(len(missing), MAX_PARALLEL_LOOKUPS)) as pool:
                futures = [(index, pool.submit(self.lookup, questions[index][0], questions[index][1], deadline))
                           for index in missing]
                for index, future in futures:
                    results[index] = future.result()
        return results

    def _batch(self, questions, queries, results, batch, deadline):
        server = self.nameservers[0]
        sock = socket.socket(socket.AF_INET6 if ':' in server else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.connect((server, self.port))
            for index in batch:
                sock.send(queries[index].to_wire())
            pending = set(batch)
            while pending:
                sock.settimeout(_time_left(deadline))
                try:
                    response = dns.message.from_wire(sock.recv(65535), ignore_trailing=True)
                except dns.exception.DNSException:
                    continue
                for index in list(pending):
                    if queries[index].is_response(response):
                        pending.discard(index)
                        usable = response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
                        if usable and not response.flags & dns.flags.TC:
                            results[index] = self._answer(questions[index][0], questions[index][1], response,
                                                          queries[index])
                        break
        except (OSError, socket.timeout):
            pass
        finally:
            sock.close()
