# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Client discovery (optional check group `client`): what a Matrix client finds for the server
name, per the spec's client-server-api "Server Discovery": /.well-known/matrix/client with
CORS, its m.homeserver.base_url, and that URL's /_matrix/client/versions.

Not part of federation: its findings are warnings and never change the verdict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import urlsplit

from ansible_collections.mxfed.federation.plugins.module_utils._errors import (
    InsecureUrlError,
    RedirectError,
    TransportError,
)
from ansible_collections.mxfed.federation.plugins.module_utils._fetch import get_following
from ansible_collections.mxfed.federation.plugins.module_utils._http import parse_https_url
from ansible_collections.mxfed.federation.plugins.module_utils._json import loads as json_loads
from ansible_collections.mxfed.federation.plugins.module_utils._report import Finding

CLIENT_WELL_KNOWN_PATH = '/.well-known/matrix/client'
CLIENT_WELL_KNOWN_MAX_SIZE = 50 * 1024  # the cap Synapse uses for the server well-known
VERSIONS_MAX_SIZE = 1024 * 1024
CLIENT_MAX_REDIRECTS = 5


def check_client(network, name, deadline=None, budget=None):
    """Client discovery for a parsed ServerName (a leaf task). Returns (record dict, [Finding]).

    deadline: when all of it ends (a time.monotonic() value); budget: the check's Budget."""
    host = name.host_for_url
    url = 'https://%s%s' % (host, CLIENT_WELL_KNOWN_PATH)
    record = {'url': url, 'status': None, 'cors': None, 'base_url': None, 'versions': None, 'versions_cors': None,
              'redirects': []}
    found = []

    def add(code, message, **fmt):
        fmt.setdefault('host', name.host)
        found.append(Finding(code, message, **fmt))

    try:
        response, chain, problem = get_following(network, url, CLIENT_WELL_KNOWN_MAX_SIZE, max_redirects=CLIENT_MAX_REDIRECTS,
                                                 deadline=deadline, budget=budget)
    except TransportError as exc:
        record['error'] = exc.message
        add('client_well_known_missing', 'Clients cannot fetch %s: %s.' % (url, exc.message))
        return record, found
    record['redirects'] = chain[:-1] if response is not None else chain
    if response is None or response.status != 200:
        record['status'] = response.status if response is not None else None
        add('client_well_known_missing', '%s answers %s.' % (
            url, ('HTTP %d' % response.status) if response is not None else 'with redirect problem %s' % (problem,)))
        return record, found
    record['status'] = 200
    record['cors'] = response.header('Access-Control-Allow-Origin')
    if record['cors'] != '*':
        add('client_cors_missing', '%s lacks "Access-Control-Allow-Origin: *" (got %r).' % (url, record['cors']), url=url)
    try:
        doc = json_loads(response.body)
        base_url = doc['m.homeserver']['base_url']
        if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ('https', 'http'):
            raise ValueError('base_url is not a URL')
    except (ValueError, KeyError, TypeError) as exc:
        add('client_well_known_invalid', '%s has no usable m.homeserver.base_url (%s).' % (url, exc))
        return record, found
    record['base_url'] = base_url
    versions_url = base_url.rstrip('/') + '/_matrix/client/versions'
    try:
        if urlsplit(versions_url).scheme != 'https':
            raise InsecureUrlError('base_url is not https')
        parse_https_url(versions_url)  # InvalidUrlError for `https://a..test`, port 0 or 99999
        vresponse, _chain, vproblem = get_following(network, versions_url, VERSIONS_MAX_SIZE,
                                                    max_redirects=CLIENT_MAX_REDIRECTS, deadline=deadline, budget=budget)
        if vresponse is None:
            raise RedirectError('redirect problem %s' % (vproblem,))
        vdoc = json_loads(vresponse.body)
        if vresponse.status != 200 or not isinstance(vdoc, dict) or not isinstance(vdoc.get('versions'), list):
            raise ValueError('HTTP %d without a "versions" list' % vresponse.status)
    except (TransportError, ValueError) as exc:
        add('client_versions_failed', '%s did not answer: %s.' % (versions_url, getattr(exc, 'message', exc)), url=versions_url)
        return record, found
    record['versions'] = vdoc.get('versions')
    record['versions_cors'] = vresponse.header('Access-Control-Allow-Origin')
    if record['versions_cors'] != '*':
        add('client_cors_missing', '%s lacks "Access-Control-Allow-Origin: *".' % versions_url, url=versions_url)
    return record, found
