# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, no network.
"""Server name parsing, following the spec appendix "Server Name" (server-server-api.md
"Resolving server names" uses the same grammar for the well-known m.server value):

    server_name = hostname [ ":" port ]
    port        = 1*5DIGIT
    hostname    = IPv4address / "[" IPv6address "]" / dns-name
    dns-name    = 1*255dns-char
    dns-char    = DIGIT / ALPHA / "-" / "."

The grammar allows 255 characters; DNS carries less (RFC 1035 2.3.4: 255 octets on the wire,
so 253 characters of text without the final dot). A name without a port is also looked up as
`_matrix-fed._tcp.<name>` (step 4), which must fit too: such a name is at most 236 characters.
Longer names are refused here with `name_too_long` rather than failing later inside DNS.

Every check is anchored on the whole string (fullmatch): `$` also matches before a final
newline, which let `example.org\n:8448` through.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

DEFAULT_FEDERATION_PORT = 8448

_DNS_NAME = re.compile(r'[A-Za-z0-9.-]{1,255}')
_DIGITS = re.compile(r'[0-9]{1,5}')
_LOOKS_IPV4 = re.compile(r'[0-9]+(\.[0-9]+){3}')
_DNS_CHAR = re.compile(r'[A-Za-z0-9.-]')

# Longest host a DNS query can carry (RFC 1035 2.3.4, without the final dot), and the longest
# that leaves room for the SRV prefix of spec step 4.
DNS_MAX_NAME = 253
SRV_PREFIX = '_matrix-fed._tcp.'
SRV_MAX_NAME = DNS_MAX_NAME - len(SRV_PREFIX)


class ServerNameError(ValueError):
    """Raised for a server name that does not follow the grammar; carries a stable code."""

    def __init__(self, code, message, value, suggestion=None):
        super(ServerNameError, self).__init__(message)
        self.code = code
        self.message = message
        self.value = value
        self.suggestion = suggestion


class ServerName(object):
    """A parsed server name: host (no brackets), optional port, and the kind of host."""

    def __init__(self, raw, host, port, ip_version):
        self.raw = raw
        self.host = host
        self.port = port
        self.ip_version = ip_version  # None for DNS names, 4 or 6 for IP literals

    @property
    def is_ip(self):
        return self.ip_version is not None

    @property
    def host_for_url(self):
        return '[%s]' % self.host if self.ip_version == 6 else self.host

    def with_port(self):
        """host[:port] as written in Host headers (brackets for IPv6)."""
        if self.port is None:
            return self.host_for_url
        return '%s:%d' % (self.host_for_url, self.port)

    def __repr__(self):
        return 'ServerName(%r)' % self.raw

    def __eq__(self, other):
        return isinstance(other, ServerName) and (self.host, self.port) == (other.host, other.port)

    def __hash__(self):
        return hash((self.host, self.port))


def _parse_port(value, raw):
    if not _DIGITS.fullmatch(value):
        raise ServerNameError('name_port_invalid', 'Invalid port %r in server name %r: a port is 1 to 5 digits.' % (value, raw), raw)
    port = int(value)
    if not 1 <= port <= 65535:
        raise ServerNameError('name_port_invalid', 'Invalid port %d in server name %r: ports are 1 to 65535.' % (port, raw), raw)
    return port


def parse_server_name(value):
    """Parse and validate a server name; raise ServerNameError with a precise code otherwise.

    Raises nothing else, whatever `value` is."""
    return _parse(value, srv=True)


def parse_host_port(value):
    """The same grammar for the authority of a URL (host[:port], at most 253 characters of host):
    no SRV lookup is made for it."""
    return _parse(value, srv=False)


def _parse(value, srv):
    if value is None:
        raise ServerNameError('name_empty', 'The server name is empty.', value)
    if not isinstance(value, str):
        raise ServerNameError('name_invalid', 'The server name must be a string, got %s.' % type(value).__name__, value)
    raw = value
    if raw.strip() == '':
        raise ServerNameError('name_empty', 'The server name is empty.', raw)
    if raw != raw.strip():
        raise ServerNameError('name_invalid', 'The server name %r has leading or trailing spaces.' % raw, raw)
    if '://' in raw or re.match(r'^[A-Za-z][A-Za-z0-9+.-]*:/', raw):
        rest = raw.split('://', 1)[-1].split('/', 1)[0]
        raise ServerNameError('name_scheme', 'The server name %r contains a URL scheme; a server name is host[:port].' % raw,
                              raw, suggestion=rest)
    for char in '/?#':
        if char in raw:
            raise ServerNameError('name_path', 'The server name %r contains %r: a server name has no path or query.' % (raw, char), raw)
    if '@' in raw:
        raise ServerNameError('name_path', 'The server name %r contains "@": give the server name, not a user ID.' % raw, raw)

    if raw.startswith('['):
        end = raw.find(']')
        if end < 0:
            raise ServerNameError('name_ipv6_malformed', 'Unclosed "[" in server name %r.' % raw, raw)
        literal = raw[1:end]
        rest = raw[end + 1:]
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError:
            raise ServerNameError('name_ipv6_malformed', 'Invalid IPv6 address %r in server name %r.' % (literal, raw), raw)
        if '%' in literal:
            raise ServerNameError('name_ipv6_malformed', 'Zone IDs are not allowed in server names (%r).' % raw, raw)
        port = None
        if rest:
            if not rest.startswith(':'):
                raise ServerNameError('name_ipv6_malformed', 'Unexpected %r after the IPv6 literal in %r.' % (rest, raw), raw)
            port = _parse_port(rest[1:], raw)
        return ServerName(raw, str(address), port, 6)

    if raw.count(':') > 1:
        raise ServerNameError('name_ipv6_malformed',
                              'The server name %r looks like an IPv6 address without brackets; write [address]:port.' % raw, raw)
    if ']' in raw:
        raise ServerNameError('name_ipv6_malformed', 'Unbalanced "]" in server name %r.' % raw, raw)

    host, sep, port_text = raw.partition(':')
    port = _parse_port(port_text, raw) if sep else None
    if not host:
        raise ServerNameError('name_empty', 'The server name %r has a port but no host.' % raw, raw)
    if _LOOKS_IPV4.fullmatch(host):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise ServerNameError('name_ipv4_malformed', 'Invalid IPv4 address %r in server name %r.' % (host, raw), raw)
        return ServerName(raw, str(address), port, 4)
    bad = sorted(set(c for c in host if not _DNS_CHAR.fullmatch(c)))
    if bad:
        raise ServerNameError('name_invalid', 'The server name %r contains characters not allowed in a DNS name: %s.'
                              % (raw, ' '.join(repr(c) for c in bad)), raw)
    bare = host[:-1] if host.endswith('.') else host
    limit = SRV_MAX_NAME if srv and port is None else DNS_MAX_NAME
    if len(bare) > limit or not _DNS_NAME.fullmatch(host):
        if limit == SRV_MAX_NAME and len(bare) <= DNS_MAX_NAME:
            why = ('without a port, other servers look up %s<name>, and DNS names are at most %d characters: '
                   'give an explicit port or a shorter name' % (SRV_PREFIX, DNS_MAX_NAME))
        else:
            why = 'DNS names are at most %d characters' % DNS_MAX_NAME
        raise ServerNameError('name_too_long', 'The server name host is %d characters long, more than %d (%s).'
                              % (len(bare), limit, why), raw)
    labels = bare.split('.')
    if any(label == '' for label in labels) or any(len(label) > 63 for label in labels):
        raise ServerNameError('name_invalid', 'The server name %r has an empty or over-long (>63) DNS label.' % raw, raw)
    if any(label.startswith('-') or label.endswith('-') for label in labels):
        raise ServerNameError('name_invalid', 'A DNS label in %r starts or ends with "-".' % raw, raw)
    return ServerName(raw, host, port, None)


def ip_literal_version(host):
    """4 or 6 for an IP literal (without brackets), else None."""
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None
