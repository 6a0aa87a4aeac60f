# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""X.509 helpers for the delegation check: names (RFC 6125 matching), validity, description.

The TLS name is checked here on the verified leaf, not by ssl, so that a report can say
"wrong name" apart from "untrusted chain".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress

try:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False

# OpenSSL verify codes we explain to the operator.
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20


def load_der_certificate(der):
    """A cryptography Certificate from DER; ValueError if it does not parse."""
    return x509.load_der_x509_certificate(der)


def _not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _not_before(cert):
    value = getattr(cert, 'not_valid_before_utc', None)
    if value is None:
        value = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    return value


def certificate_names(cert):
    """(dns names, ip addresses) from subjectAltName. CN is ignored, as modern clients do."""
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def describe_certificate(cert):
    dns_names, ips = certificate_names(cert)
    try:
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
    except ValueError:
        subject = issuer = None
    return {
        'subject': subject,
        'issuer': issuer,
        'dns_names': dns_names,
        'ip_addresses': ips,
        'not_before': _not_before(cert).isoformat(),
        'not_after': _not_after(cert).isoformat(),
        'serial': '%x' % cert.serial_number,
    }


def name_matches(pattern, hostname):
    """RFC 6125 matching: exact, or a single leftmost '*' label that matches exactly one label."""
    pattern = pattern.rstrip('.').lower()
    hostname = hostname.rstrip('.').lower()
    if pattern == hostname:
        return True
    if not pattern.startswith('*.'):
        return False
    suffix = pattern[2:]
    if '*' in suffix or suffix.count('.') < 1:
        return False
    head, dot, rest = hostname.partition('.')
    return bool(head) and bool(dot) and rest == suffix


def match_certificate_name(cert, expected):
    """True if the certificate is valid for `expected` (DNS name or IP literal)."""
    dns_names, ips = certificate_names(cert)
    try:
        expected_ip = ipaddress.ip_address(expected)
    except ValueError:
        expected_ip = None
    if expected_ip is not None:
        return any(ipaddress.ip_address(ip) == expected_ip for ip in ips)
    try:
        wanted = expected.encode('idna').decode('ascii')
    except UnicodeError:
        wanted = expected
    return any(name_matches(name, wanted) for name in dns_names)


def cert_seconds_left(cert, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (_not_after(cert) - now).total_seconds()


def is_self_issued(cert):
    return cert.issuer == cert.subject
