# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The request budget: optional probes never starve what decides the verdict."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from _lab import App
from ansible_collections.mxfed.federation.plugins.module_utils._budget import MAX_REQUESTS, Budget, RequestCapError
from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_server


def test_optional_requests_stop_at_half_mandatory_at_the_cap():
    budget = Budget(timeout=5, max_requests=10)
    for number in range(5):
        budget.take_request('GET /optional/%d' % number, optional=True)
    with pytest.raises(RequestCapError) as err:
        budget.take_request('GET /optional', optional=True)
    assert 'keeps the rest for what decides the verdict' in err.value.message
    for number in range(5):
        budget.take_request('GET /_matrix/key/v2/server %d' % number)
    with pytest.raises(RequestCapError):
        budget.take_request('GET /_matrix/key/v2/server')
    assert (budget.requests, budget.refused, budget.refused_optional) == (10, 1, 1)


def test_twenty_addresses_all_keys_fetched_with_every_probe_on(lab):
    # 5 SRV targets x 4 addresses, all healthy, the same homeserver (one key) behind each: with
    # keys, version and the proxy probes that is 8 requests an address, 160 in all, more than the
    # check's cap. The optional probes give way; every address's keys are still fetched.
    app = App(server_name='big.test')
    lab.dns.add('big.test', 'A', '127.0.3.1')
    lab.closed('127.0.3.1', 443)
    ips = []
    for target in range(5):
        host = 't%d.big.test' % target
        lab.dns.add_srv('_matrix-fed._tcp.big.test', host, 8448, priority=target)
        mine = ['127.0.3.%d' % (10 + 4 * target + i) for i in range(4)]
        lab.dns.add(host, 'A', *mine)
        for ip in mine:
            lab.https(ip, 8448, ['big.test'], app=app)
        ips.extend(mine)
    result = check_server('big.test', lab.network(), checks=('keys', 'version', 'proxy'))
    assert result['federation_ok'] is True, result['summary']
    checked = [a for a in result['addresses'] if a.get('keys')]
    assert len(checked) == 20 and all(a['keys'].get('ok') for a in checked), result['summary']
    assert not [w for w in result['warnings'] if w['code'].startswith(('route_', 'proxy_', 'version_'))], result['summary']
    skipped = [r for a in result['addresses'] for r in (a.get('proxy') or {}).get('routes', []) if r.get('skipped')]
    assert skipped, 'expected some optional probes to give way at %d requests' % (MAX_REQUESTS // 2)
