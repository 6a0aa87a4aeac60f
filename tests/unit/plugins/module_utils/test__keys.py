# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Canonical JSON and signed key responses (spec appendices "Canonical JSON", "Signing JSON")."""

from __future__ import absolute_import, division, print_function

import time

import pytest

from _lab import SigningKey
from ansible_collections.mxfed.federation.plugins.module_utils._keys import (
    canonical_json,
    check_key_response,
    verify_ed25519,
)


@pytest.mark.parametrize('value, expected', [
    ({}, b'{}'),
    ({'one': 1, 'two': 'Two'}, b'{"one":1,"two":"Two"}'),
    ({'b': '2', 'a': '1'}, b'{"a":"1","b":"2"}'),
    ({'auth': {'success': True, 'mxid': '@john.doe:example.com',
               'profile': {'display_name': 'John Doe', 'three_pids': [{'medium': 'email', 'address': 'john.doe@example.org'}]}}},
     b'{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":'
     b'[{"address":"john.doe@example.org","medium":"email"}]},"success":true}}'),
    ({'a': '\u65e5\u672c\u8a9e'}, '{"a":"\u65e5\u672c\u8a9e"}'.encode('utf-8')),
    ({'a': None}, b'{"a":null}'),
    ({'a': '\u2028'}, '{"a":"\u2028"}'.encode('utf-8')),
])
def test_canonical_json(value, expected):
    assert canonical_json(value) == expected


def _signed(name='example.org', valid_ms=3600 * 1000 * 24, key=None):
    key = key or SigningKey()
    doc = {'server_name': name, 'verify_keys': {key.key_id: {'key': key.public_b64}}, 'old_verify_keys': {},
           'valid_until_ts': int(time.time() * 1000) + valid_ms}
    return key.sign(doc, name), key


def test_good_response():
    doc, key = _signed()
    doc['unsigned'] = {'ignored': 'by signing'}
    summary, problems = check_key_response(doc, 'example.org')
    assert problems == []
    assert summary['signatures_valid'] is True
    assert summary['verify_keys'] == {key.key_id: key.public_b64}


@pytest.mark.parametrize('mutate, code', [
    (lambda d: d.update(server_name='other.org'), 'keys_server_name_mismatch'),
    (lambda d: d.update(valid_until_ts=d['valid_until_ts'] + 1), 'keys_bad_signature'),
    (lambda d: d.update(valid_until_ts=1000), 'keys_expired'),
    (lambda d: d.update(valid_until_ts='soon'), 'keys_expired'),
    (lambda d: d.pop('signatures'), 'keys_unsigned'),
    (lambda d: d.update(verify_keys={}), 'keys_no_ed25519'),
])
def test_bad_responses(mutate, code):
    doc, _key = _signed()
    mutate(doc)
    _summary, problems = check_key_response(doc, 'example.org')
    assert code in [p.code for p in problems]


def test_expiring_soon_is_a_warning_code():
    doc, _key = _signed(valid_ms=10 * 60 * 1000)
    _summary, problems = check_key_response(doc, 'example.org')
    assert [p.code for p in problems] == ['keys_expiring']


def test_verify_rejects_malformed_key():
    with pytest.raises(ValueError):
        verify_ed25519('AAAA', 'AAAA', b'x')
