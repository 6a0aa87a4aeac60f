# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Typed transport errors: each class's `kind` (the word reports print) and how they nest."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    ConnectTimeoutError,
    ConnectUnreachableError,
    DnsError,
    HttpError,
    InsecureUrlError,
    InvalidUrlError,
    RedirectError,
    RequestTimeoutError,
    TimeoutTransportError,
    TlsError,
    TlsTimeoutError,
    TransportError,
    short_error,
)

KINDS = [
    # class, kind, its parents besides TransportError
    (DnsError, 'dns', ()),
    (ConnectError, 'connect', ()),
    (ConnectRefusedError, 'refused', (ConnectError,)),
    (ConnectUnreachableError, 'unreachable', (ConnectError,)),
    (ConnectTimeoutError, 'timeout', (ConnectError, TimeoutTransportError)),
    (RequestTimeoutError, 'timeout', (TimeoutTransportError,)),
    (TlsTimeoutError, 'timeout', (RequestTimeoutError, TimeoutTransportError)),
    (TlsError, 'tls', ()),
    (HttpError, 'http', ()),
    (ConnectionClosedError, 'closed', ()),
    (InsecureUrlError, 'insecure', ()),
    (InvalidUrlError, 'url', ()),
    (RedirectError, 'redirect', ()),
]


@pytest.mark.parametrize('cls, kind, parents', KINDS, ids=[row[0].__name__ for row in KINDS])
def test_kind_message_and_parents(cls, kind, parents):
    exc = cls('it broke')
    assert exc.kind == kind
    assert exc.message == 'it broke'
    assert str(exc) == 'it broke'
    assert isinstance(exc, TransportError)
    assert isinstance(exc, Exception)
    for parent in parents:
        assert isinstance(exc, parent)


@pytest.mark.parametrize('cls', [row[0] for row in KINDS], ids=[row[0].__name__ for row in KINDS])
def test_kind_is_read_only(cls):
    exc = cls('x')
    with pytest.raises(AttributeError):
        exc.kind = 'other'


@pytest.mark.parametrize('cls, not_a', [
    (TlsError, ConnectError),
    (ConnectRefusedError, TimeoutTransportError),
    (RequestTimeoutError, ConnectError),
    (TlsTimeoutError, TlsError),
    (ConnectionClosedError, HttpError),
    (HttpError, TlsError),
    (DnsError, ConnectError),
])
def test_unrelated_classes_stay_apart(cls, not_a):
    assert not isinstance(cls('x'), not_a)


def test_caught_as_the_base():
    with pytest.raises(TransportError) as info:
        raise ConnectTimeoutError('TCP connection timed out')
    assert info.value.kind == 'timeout'


@pytest.mark.parametrize('exc, text', [
    (ValueError('short'), 'short'),
    (ValueError(), 'ValueError'),
    (ValueError('x' * 299), 'x' * 299),
    (ValueError('x' * 300), 'x' * 297 + '...'),
])
def test_short_error(exc, text):
    assert short_error(exc) == text
