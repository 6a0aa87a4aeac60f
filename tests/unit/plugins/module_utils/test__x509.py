# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Certificate name matching (RFC 6125): a table of patterns and host names.

Whole certificates (SAN, IP literals, expiry, chains) are exercised against real TLS servers in
test__discovery.py.
"""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._x509 import name_matches

NAMES = [
    # pattern, host name, matches
    ('example.org', 'example.org', True),
    ('Example.ORG.', 'example.org', True),
    ('example.org', 'matrix.example.org', False),
    ('*.example.org', 'matrix.example.org', True),
    ('*.example.org', 'MATRIX.example.org.', True),
    ('*.example.org', 'example.org', False),
    ('*.example.org', 'a.b.example.org', False),
    ('*.org', 'example.org', False),
    ('*.*.example.org', 'a.b.example.org', False),
    ('m*.example.org', 'matrix.example.org', False),
    ('*.example.org', '.example.org', False),
]


@pytest.mark.parametrize('pattern, hostname, expected', NAMES)
def test_name_matches(pattern, hostname, expected):
    assert name_matches(pattern, hostname) is expected
