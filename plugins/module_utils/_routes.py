# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""The federation routes a reverse proxy must pass on, one small request each, and who answered.

A proxy in front of Synapse workers sends each federation path to its own pool of processes
(Synapse's docs/workers.md: transactions to the inbound workers, queries and key queries to the
federation readers, media to the media repository). One pool down leaves the key endpoint
answering, so discovery and TLS pass, while the proxy answers that pool's paths itself with 502,
503 or 504. The same happens when the proxy routes a path nowhere. Nothing here sends anything:
ROUTE_PROBES says what to ask and classify() reads the answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

# Statuses a reverse proxy sends itself when its upstream does not answer.
BACKEND_DOWN_STATUSES = (502, 503, 504)

RouteProbe = namedtuple('RouteProbe', 'route method path body what')

# One request per routing class; each is unauthenticated, small and changes nothing: the
# homeserver answers it with a Matrix error (401 Missing Authorization, 404 M_UNRECOGNIZED
# where an implementation lacks the endpoint) or, for the empty key query, 200 and no keys.
# Measured through Caddy in the lab: Synapse 1.163 answers 401, 401, 200 {"server_keys": []},
# 401; Dendrite 0.13.8 401, 401, 404 M_NOT_FOUND, 401 (wrapped, see is_homeserver_body).
ROUTE_PROBES = (
    RouteProbe('transactions', 'PUT', '/_matrix/federation/v1/send/{txn}',
               b'{"origin":"mxfed-check.invalid","origin_server_ts":0,"pdus":[],"edus":[]}',
               'incoming transactions: other servers cannot deliver events (messages) to this one; they queue and retry'),
    RouteProbe('queries', 'GET', '/_matrix/federation/v1/query/profile?user_id=%40mxfed-check%3Amxfed-check.invalid',
               None, 'federation reads (queries, joins, backfill, event fetches): joining rooms here and history fail'),
    RouteProbe('key_queries', 'POST', '/_matrix/key/v2/query', b'{"server_keys":{}}',
               'key queries: servers using this one as a notary cannot get keys'),
    RouteProbe('media', 'GET', '/_matrix/federation/v1/media/download/mxfed-check', None,
               'media over federation: other servers cannot download this server\'s files'),
)

HOMESERVER = 'homeserver'
BACKEND_DOWN = 'backend_down'
NOT_FORWARDED = 'not_forwarded'


def is_homeserver_body(doc):
    """Whether a JSON body came from a homeserver rather than from a proxy in front of it.

    Synapse and Conduit answer errors with the spec's {"errcode", "error"}; Dendrite 0.13 answers
    an unauthenticated federation request with {"message": "Missing \"Authorization: X-Matrix ...\"
    HTTP header"} and no errcode; on its federation media path Dendrite 0.13.8 wraps that in its
    internal response type, {"Code": 401, "JSON": {"message": ...}, "Headers": null} (measured
    through Caddy in the lab). Proxies answer with HTML or an empty body.
    """
    if isinstance(doc, dict) and set(doc) >= {'Code', 'JSON'}:
        doc = doc['JSON']
    return isinstance(doc, dict) and any(key in doc for key in ('errcode', 'error', 'message'))


def classify(status, doc):
    """Who answered a route probe: HOMESERVER, BACKEND_DOWN (the proxy's own 502/503/504) or
    NOT_FORWARDED (the proxy answered something else itself).

    doc is the parsed JSON body or None. A 200 JSON object (the empty key query's answer) is the
    homeserver; so is any Matrix error, whatever its status (an implementation without the
    endpoint answers 404 M_UNRECOGNIZED, which is the homeserver reached)."""
    if isinstance(doc, dict) and (is_homeserver_body(doc) or status == 200):
        return HOMESERVER
    if status in BACKEND_DOWN_STATUSES:
        return BACKEND_DOWN
    return NOT_FORWARDED


def probe_path(probe, txn):
    """The request path of a probe (the transaction ID fills {txn})."""
    return probe.path.replace('{txn}', txn)
