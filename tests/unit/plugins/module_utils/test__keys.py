# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Canonical JSON and signed key responses (spec appendices "Canonical JSON", "Signing JSON")."""

from __future__ import absolute_import, division, print_function

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize('value', [10 ** 309, -(10 ** 309), 2 ** 53, 1.5, float('inf'), None, [1], {'a': 1}, True])
def test_valid_until_ts_out_of_range_or_not_an_integer_is_a_finding(value):
    doc, _key = _signed()
    doc['valid_until_ts'] = value
    _summary, problems = check_key_response(doc, 'example.org')
    found = [p for p in problems if p.code == 'keys_expired']
    assert found and len(found[0].message) < 200, [p.message for p in problems]


def test_deeply_nested_key_response_is_a_finding():
    doc, _key = _signed()
    nested = []
    for _index in range(5000):
        nested = [nested]
    doc['extra'] = nested
    _summary, problems = check_key_response(doc, 'example.org')
    assert 'keys_invalid_json' in [p.code for p in problems]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(['server_name', 'verify_keys', 'old_verify_keys', 'signatures', 'valid_until_ts',
                                        'unsigned', 'other']), _JSON_VALUES, max_size=7),
       st.booleans())
def test_check_key_response_never_raises(doc, start_signed):
    if start_signed:
        signed, _key = _signed()
        signed.update(doc)
        doc = signed
    summary, problems = check_key_response(doc, 'example.org')
    assert isinstance(summary, dict)
    assert all(p.code.startswith('keys_') for p in problems)
