# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""JSON from servers we do not control: a value or a coded error, never RecursionError.

json.loads recurses once per nesting level (`'[' * 10000` is a RecursionError) and accepts
NaN, Infinity and integers of any size. Bodies are checked here first, without recursion, and
held to what Matrix's canonical JSON allows (spec appendix "Canonical JSON"; Synapse's
canonicaljson): integers in [-(2**53)+1, 2**53-1], no NaN or Infinity.

Two forms of one parser:
    value, error = parse_json(body)   # error None, or JsonError (code, message)
    value = loads(body)               # raises JsonError, a ValueError: drop-in for
                                      # json.loads(body.decode('utf-8')) in `except ValueError`
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math

MAX_DEPTH = 64  # Matrix documents nest a handful of levels; Python's own limit is about 1000
MAX_BYTES = 1024 * 1024
MAX_SAFE_INTEGER = 2 ** 53 - 1


class JsonError(ValueError):
    """A body that is not acceptable JSON. code: json_too_large, json_not_utf8, json_too_deep,
    json_number_range, json_invalid."""

    def __init__(self, code, message):
        super(JsonError, self).__init__(message)
        self.code = code
        self.message = message


def _check_depth(text, max_depth):
    """Deepest nesting of [ and { outside strings, scanning without recursion."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == '\\':
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in '[{':
            depth += 1
            if depth > max_depth:
                raise JsonError('json_too_deep', 'JSON nested deeper than %d levels' % max_depth)
        elif char in ']}':
            depth -= 1


def _parse_int(text):
    digits = text.lstrip('-')
    if len(digits) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise JsonError('json_number_range', 'integer %s is outside [-(2**53)+1, 2**53-1], the range of canonical JSON'
                        % (text if len(text) <= 24 else text[:21] + '...'))
    return int(text)


def _parse_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise JsonError('json_number_range', 'number %s is not finite' % (text if len(text) <= 24 else text[:21] + '...'))
    return value


def _parse_constant(name):
    raise JsonError('json_number_range', '%s is not JSON' % name)


def loads(body, max_depth=MAX_DEPTH, max_bytes=MAX_BYTES):
    """Parse `body` (bytes or str); raise JsonError (a ValueError) with a code."""
    if isinstance(body, (bytes, bytearray)):
        if len(body) > max_bytes:
            raise JsonError('json_too_large', 'JSON body of %d bytes, more than %d' % (len(body), max_bytes))
        try:
            text = bytes(body).decode('utf-8')
        except UnicodeDecodeError as exc:
            raise JsonError('json_not_utf8', 'not UTF-8 (%s)' % exc.reason)
    elif isinstance(body, str):
        text = body
        if len(text) > max_bytes:
            raise JsonError('json_too_large', 'JSON text of %d characters, more than %d' % (len(text), max_bytes))
    else:
        raise JsonError('json_invalid', 'not a JSON text (%s)' % type(body).__name__)
    _check_depth(text, max_depth)
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except JsonError:
        raise
    except (ValueError, RecursionError) as exc:
        # A JSONDecodeError, or int() refusing more than sys.get_int_max_str_digits() digits.
        raise JsonError('json_invalid', 'invalid JSON (%s)' % str(exc)[:120])


def parse_json(body, max_depth=MAX_DEPTH, max_bytes=MAX_BYTES):
    """(value, None), or (None, JsonError) with .code and .message. Never raises."""
    try:
        return loads(body, max_depth=max_depth, max_bytes=max_bytes), None
    except JsonError as exc:
        return None, exc
