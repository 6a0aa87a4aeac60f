# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""Typed errors of the network steps of the delegation check.

Callers tell failures apart with isinstance. Each class also has a read-only `kind`, the short
word the reports have always printed (refused, timeout, tls, ...), so a report does not change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class TransportError(Exception):
    """A network step failed. `message` is the sentence for the operator."""

    _kind = 'transport'

    def __init__(self, message):
        super(TransportError, self).__init__(message)
        self.message = message

    @property
    def kind(self):
        return self._kind


class DnsError(TransportError):
    """A host has no usable address."""

    _kind = 'dns'


class ConnectError(TransportError):
    """No TCP connection (the generic case: no address of a host answered)."""

    _kind = 'connect'


class ConnectRefusedError(ConnectError):
    _kind = 'refused'


class ConnectUnreachableError(ConnectError):
    """The connect failed for another OS reason (no route, network down, ...)."""

    _kind = 'unreachable'


class TimeoutTransportError(TransportError):
    """Something did not answer in time (connect or request)."""

    _kind = 'timeout'


class ConnectTimeoutError(ConnectError, TimeoutTransportError):
    _kind = 'timeout'


class RequestTimeoutError(TimeoutTransportError):
    """An HTTP request on an open connection got no answer in time."""

    _kind = 'timeout'


class TlsTimeoutError(RequestTimeoutError):
    """The TCP connection was accepted, the TLS handshake got no answer in time.

    Its own class because peers bound this phase differently: Go's default transport gives a
    handshake 10 s (Dendrite's well-known fetch), Twisted gives it no limit of its own."""

    _kind = 'timeout'


class TlsError(TransportError):
    """TLS handshake failed, the chain is not trusted, or the certificate is for another name."""

    _kind = 'tls'


class HttpError(TransportError):
    """The HTTP exchange failed (protocol error, reset while reading)."""

    _kind = 'http'


class ConnectionClosedError(TransportError):
    """The server closed the connection before answering."""

    _kind = 'closed'


class InsecureUrlError(TransportError):
    """A URL that must be https is not."""

    _kind = 'insecure'


class InvalidUrlError(TransportError):
    """A URL (a redirect Location, a client base_url) that cannot be requested as it is."""

    _kind = 'url'


class RedirectError(TransportError):
    """Redirects looped, went on too long or left HTTPS."""

    _kind = 'redirect'


def short_error(exc):
    """An exception as one line for a report, at most 300 characters."""
    text = str(exc) or exc.__class__.__name__
    return text if len(text) < 300 else text[:297] + '...'
