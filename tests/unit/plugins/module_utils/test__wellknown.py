# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Step 3 read from an answer: the cache period headers and what a (final) well-known response
means. Fetching over real HTTPS with redirects is in test__discovery.py."""

from __future__ import absolute_import, division, print_function

import email.utils

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._wellknown import (
    CACHE_DEFAULT,
    CACHE_MAX,
    CACHE_MIN,
    WELL_KNOWN_MAX_SIZE,
    WellKnown,
    cache_period_from_headers,
    effective_cache_period,
    read_well_known,
)

NOW = 1700000000.0
URL = 'https://example.test/.well-known/matrix/server'


def http_date(seconds):
    return email.utils.formatdate(seconds, usegmt=True)


@pytest.mark.parametrize('headers, expected', [
    ({}, None),
    ({'Cache-Control': 'no-store'}, 0),
    ({'Cache-Control': 'max-age=3600, no-store'}, 0),
    ({'Cache-Control': 'max-age=3600'}, 3600),
    ({'Cache-Control': 'public, MAX-AGE="600"'}, 600),
    ({'Cache-Control': 'max-age=-5'}, 0),
    ({'Cache-Control': 'max-age=soon'}, None),
    ({'Cache-Control': 'public'}, None),
    ({'Cache-Control': 'max-age=soon', 'Expires': http_date(NOW + 120)}, 120),
    ({'Expires': http_date(NOW + 7200)}, 7200),
    ({'Expires': http_date(NOW - 60)}, 0),
    ({'Expires': 'yesterday'}, 0),
    ({'Expires': '0'}, 0),
    ({'Cache-Control': 'max-age=60', 'Expires': http_date(NOW + 7200)}, 60),
])
def test_cache_period_from_headers(headers, expected):
    assert cache_period_from_headers(headers.get, now=NOW) == expected


@pytest.mark.parametrize('header_period, expected', [
    (None, CACHE_DEFAULT),
    (0, CACHE_MIN),
    (CACHE_MIN - 1, CACHE_MIN),
    (3600, 3600),
    (CACHE_MAX + 1, CACHE_MAX),
])
def test_effective_cache_period(header_period, expected):
    assert effective_cache_period(header_period) == expected


class Answer(object):
    """The parts of an HttpResponse that read_well_known uses."""

    def __init__(self, status, body=b'', content_type='application/json', headers=None, truncated=False):
        self.status = status
        self.body = body
        self.truncated = truncated
        self.headers = dict(headers or {})
        if content_type is not None:
            self.headers['Content-Type'] = content_type

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def content_type(self):
        return self.header('Content-Type')

    def is_json_type(self):
        return (self.content_type or '').split(';', 1)[0].strip().lower() == 'application/json'


# answer, result, codes, delegated (host[:port] as written) or None
ANSWERS = [
    (Answer(200, b'{"m.server": "matrix.example.test:443"}'), 'delegated', [], 'matrix.example.test:443'),
    (Answer(200, b'{"m.server": "matrix.example.test"}', content_type='application/json; charset=utf-8'),
     'delegated', [], 'matrix.example.test'),
    (Answer(200, b'{"m.server": "matrix.example.test"}', content_type='text/plain'), 'delegated',
     ['well_known_content_type'], 'matrix.example.test'),
    (Answer(200, b'{"m.server": "matrix.example.test"}', headers={'Cache-Control': 'max-age=60'}), 'delegated',
     ['well_known_cache_short'], 'matrix.example.test'),
    (Answer(404, b'not found', content_type='text/html'), 'absent', ['well_known_absent'], None),
    (Answer(500), 'http_error', ['well_known_status'], None),
    (Answer(200, b'{"m.server": "x"}', truncated=True), 'too_large', ['well_known_too_large'], None),
    (Answer(200, b'', content_type=None), 'invalid_json', ['well_known_content_type', 'well_known_invalid_json'], None),
    (Answer(200, b'<html>welcome</html>', content_type='text/html'), 'invalid_json',
     ['well_known_content_type', 'well_known_invalid_json'], None),
    (Answer(200, b'\xff\xfe'), 'invalid_json', ['well_known_invalid_json'], None),
    (Answer(200, b'["matrix.example.test"]'), 'invalid', ['well_known_not_object'], None),
    (Answer(200, b'{"m.homeserver": {}}'), 'invalid', ['well_known_missing_m_server'], None),
    (Answer(200, b'{"m.server": 8448}'), 'invalid', ['well_known_invalid_m_server'], None),
    (Answer(200, b'{"m.server": "https://matrix.example.test"}'), 'invalid_m_server', ['well_known_invalid_m_server'], None),
]


@pytest.mark.parametrize('answer, result, expected_codes, delegated', ANSWERS)
def test_read_well_known(answer, result, expected_codes, delegated):
    fields, got, found = read_well_known(URL, 'example.test', answer)
    assert fields['result'] == result
    assert [f.code for f in found] == expected_codes
    assert all(f.step == '3' for f in found)
    assert (got.raw if got is not None else None) == delegated
    assert (fields['status'], fields['size']) == (answer.status, len(answer.body))


def test_read_well_known_records_the_cache_headers():
    fields, _delegated, _found = read_well_known(URL, 'example.test', Answer(
        200, b'{"m.server": "m.example.test"}', headers={'Cache-Control': 'max-age=999999'}))
    assert fields['cache'] == {'cache_control': 'max-age=999999', 'expires': None, 'header_seconds': 999999,
                               'effective_seconds': CACHE_MAX}


def test_read_well_known_messages():
    _fields, _delegated, found = read_well_known(URL, 'example.test', Answer(200, b'x' * 10, truncated=True))
    assert found[0].message == '%s is larger than %d bytes; other servers stop reading it.' % (URL, WELL_KNOWN_MAX_SIZE)
    _fields, _delegated, found = read_well_known(URL, 'example.test', Answer(503))
    assert found[0].message == '%s answers HTTP 503; other servers treat that as "no delegation".' % URL


def test_skipped_well_known():
    skipped = WellKnown.skipped()
    assert skipped.record == {'result': 'skipped'}
    assert (skipped.result, skipped.delegated, skipped.findings, skipped.timed_out) == ('skipped', None, [], False)
