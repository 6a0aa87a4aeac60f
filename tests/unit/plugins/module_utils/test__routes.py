# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Who answered a route probe, without any network."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, strategies as st

from ansible_collections.mxfed.federation.plugins.module_utils._routes import (
    BACKEND_DOWN,
    HOMESERVER,
    NOT_FORWARDED,
    ROUTE_PROBES,
    classify,
    probe_path,
)


@pytest.mark.parametrize('status, doc, expected', [
    (401, {'errcode': 'M_UNAUTHORIZED', 'error': 'Missing Authorization headers'}, HOMESERVER),  # Synapse, Conduit
    (401, {'message': 'Missing "Authorization: X-Matrix ..." HTTP header'}, HOMESERVER),  # Dendrite 0.13
    # Dendrite 0.13.8's federation media download, measured through Caddy in the lab:
    (401, {'Code': 401, 'JSON': {'message': 'Missing "Authorization: X-Matrix ..." HTTP header'}, 'Headers': None},
     HOMESERVER),
    (401, {'Code': 401, 'JSON': 'not an error object'}, NOT_FORWARDED),
    (404, {'errcode': 'M_NOT_FOUND', 'error': 'Server name not known'}, HOMESERVER),  # Dendrite's empty key query
    (404, {'errcode': 'M_UNRECOGNIZED', 'error': 'Unrecognized request'}, HOMESERVER),  # endpoint unknown there
    (200, {'server_keys': []}, HOMESERVER),  # the empty key query
    (502, None, BACKEND_DOWN),  # Caddy, nginx: upstream down
    (503, None, BACKEND_DOWN),
    (504, None, BACKEND_DOWN),
    (502, {'errcode': 'M_UNKNOWN', 'error': 'bad gateway'}, HOMESERVER),  # a homeserver's own 502 (remote failure)
    (404, None, NOT_FORWARDED),  # the proxy's own page: path not routed
    (401, None, NOT_FORWARDED),  # basic auth in the proxy
    (200, None, NOT_FORWARDED),  # a web page
    (200, ['not', 'an', 'object'], NOT_FORWARDED),
])
def test_classify(status, doc, expected):
    assert classify(status, doc) == expected


@given(st.integers(min_value=100, max_value=599), st.one_of(
    st.none(), st.integers(), st.text(), st.lists(st.integers()),
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.text(max_size=8)), max_size=4)))
def test_classify_any_answer_is_one_of_three(status, doc):
    assert classify(status, doc) in (HOMESERVER, BACKEND_DOWN, NOT_FORWARDED)


def test_probes_are_small_unauthenticated_and_distinct():
    assert len({p.route for p in ROUTE_PROBES}) == len(ROUTE_PROBES)
    for probe in ROUTE_PROBES:
        assert probe.method in ('GET', 'PUT', 'POST')
        assert (probe.body is None) == (probe.method == 'GET')
        assert probe.body is None or len(probe.body) < 200
        assert probe_path(probe, 'T').startswith('/_matrix/')
        assert '{txn}' not in probe_path(probe, 'T')
        assert probe.what  # who breaks, for the finding's message
