# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""JSON from servers we do not control: a value or a coded JsonError, never another exception."""

from __future__ import absolute_import, division, print_function

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mxfed.federation.plugins.module_utils._json import JsonError, loads, parse_json


@pytest.mark.parametrize('body, value', [
    (b'{"m.server": "matrix.example.org:443"}', {'m.server': 'matrix.example.org:443'}),
    (b'[1, -2, 9007199254740991, -9007199254740991, 1.5, "\\"[[["]', [1, -2, 2 ** 53 - 1, -(2 ** 53) + 1, 1.5, '"[[[']),
    ('{"a": "\u00e9"}'.encode('utf-8'), {'a': '\u00e9'}),
    ('[[]]', [[]]),
])
def test_accepted(body, value):
    assert loads(body) == value
    assert parse_json(body) == (value, None)


@pytest.mark.parametrize('body, code', [
    (b'[' * 10000 + b']' * 10000, 'json_too_deep'),  # was a RecursionError through json.loads
    (b'{"a":' * 65 + b'1' + b'}' * 65, 'json_too_deep'),
    (b'9007199254740992', 'json_number_range'),
    (b'[-9007199254740992]', 'json_number_range'),
    (b'{"valid_until_ts": 1' + b'0' * 309 + b'}', 'json_number_range'),
    (b'1' * 5000, 'json_number_range'),
    (b'1e400', 'json_number_range'),
    (b'NaN', 'json_number_range'),
    (b'[-Infinity]', 'json_number_range'),
    (b'\xff{}', 'json_not_utf8'),
    (b'{"a": 1', 'json_invalid'),
    (b'', 'json_invalid'),
    (b' ' * 20, 'json_too_large'),
    (None, 'json_invalid'),
])
def test_refused_with_a_code(body, code):
    value, error = parse_json(body, max_bytes=16) if code == 'json_too_large' else parse_json(body)
    assert value is None and error.code == code and error.message, (error.code, error.message)
    with pytest.raises(ValueError):  # callers' existing `except ValueError` keeps working
        loads(body, max_bytes=16) if code == 'json_too_large' else loads(body)


def test_depth_limit_is_inclusive():
    assert loads('[' * 64 + ']' * 64, max_depth=64) is not None
    assert parse_json('[' * 65 + ']' * 65, max_depth=64)[1].code == 'json_too_deep'


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.text(alphabet='[]{}",:0123456789.-eE\\ntrufalsNIy ', max_size=300).map(lambda t: t.encode('utf-8'))))
def test_parse_json_never_raises(body):
    value, error = parse_json(body)
    if error is None:
        json.dumps(value)  # whatever it returns can be encoded again
    else:
        assert isinstance(error, JsonError) and error.code.startswith('json_')
