# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The resolution algorithm and the per-address checks against real loopback servers.

Every test builds DNS records and HTTPS listeners, runs the check, then asserts what the
*servers* saw (address, port, Host header, SNI), not only what the check reports.
"""

from __future__ import absolute_import, division, print_function

import pytest

from _lab import App, json_response
from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_many, check_server
from ansible_collections.mxfed.federation.plugins.module_utils._servername import ServerNameError

KEYS = ('keys',)


def run(lab, name, checks=KEYS, **net):
    return check_server(name, lab.network(**net), checks=checks)


def codes(result, level=None):
    items = []
    for key in ('errors', 'warnings', 'notes'):
        items.extend(result[key])
    return [f['code'] for f in items if level is None or f['level'] == level]


def evidence(result):
    """Error codes other than the verdict's own peer_unreachable lines."""
    return [code for code in codes(result, 'error') if code != 'peer_unreachable']


def seen(server, path='/_matrix/key/v2/server'):
    """(ip, logical port, Host header, SNI) of the requests a server received for path."""
    return sorted(set((r['ip'], r['port'], r['host'], r['sni']) for r in server.requests if r['path'] == path))


def assert_ok(result):
    assert result['errors'] == [], result['summary']
    assert result['federation_ok'] is True, result['summary']


# ------------------------------------------------------------------ one test per table row
def test_row1_ip_literal(lab):
    hs = lab.homeserver('127.0.0.2', '127.0.0.2', cert_names=['127.0.0.2'])
    result = run(lab, '127.0.0.2')
    assert_ok(result)
    assert result['step'] == '1'
    assert seen(hs) == [('127.0.0.2', 8448, '127.0.0.2', None)]
    assert lab.dns.queries == []  # no DNS at all for IP literals


def test_row1_ipv6_literal_with_port(lab):
    hs = lab.homeserver('[::1]:8449', '::1', port=8449, cert_names=['::1'])
    result = run(lab, '[::1]:8449')
    assert_ok(result)
    assert result['step'] == '1'
    assert seen(hs) == [('::1', 8449, '[::1]:8449', None)]


def test_row2_explicit_port_skips_well_known_and_srv(lab):
    lab.dns.add('example.test', 'A', '127.0.0.3')
    lab.dns.add_srv('_matrix-fed._tcp.example.test', 'elsewhere.test', 9999)
    wk = lab.well_known('example.test', '127.0.0.3', m_server='wrong.test:1')
    hs = lab.homeserver('example.test:8449', '127.0.0.3', port=8449, cert_names=['example.test'])
    result = run(lab, 'example.test:8449')
    assert_ok(result)
    assert result['step'] == '2'
    assert seen(hs) == [('127.0.0.3', 8449, 'example.test:8449', 'example.test')]
    assert wk.requests == []
    assert not [q for q in lab.dns.queries if q[1] == 'SRV']


def test_row3_1_well_known_ip_literal(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.well_known('example.test', '127.0.0.2', m_server='127.0.0.4:8450')
    hs = lab.homeserver('example.test', '127.0.0.4', port=8450, cert_names=['127.0.0.4'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '3.1'
    assert seen(hs) == [('127.0.0.4', 8450, '127.0.0.4:8450', None)]


def test_row3_2_well_known_with_port(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.4')
    lab.dns.add_srv('_matrix-fed._tcp.matrix.example.test', 'elsewhere.test', 9999)
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test:8451')
    hs = lab.homeserver('example.test', '127.0.0.4', port=8451, cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '3.2'
    assert seen(hs) == [('127.0.0.4', 8451, 'matrix.example.test:8451', 'matrix.example.test')]
    assert ('_matrix-fed._tcp.matrix.example.test.', 'SRV') not in lab.dns.queries


def test_row3_3_srv_on_delegated_name(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add_srv('_matrix-fed._tcp.matrix.example.test', 'hs1.example.test', 8452)
    lab.dns.add_srv('_matrix._tcp.matrix.example.test', 'old.example.test', 8453)
    lab.dns.add('hs1.example.test', 'A', '127.0.0.5')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test')
    # The certificate names the delegated host, not the SRV target.
    hs = lab.homeserver('example.test', '127.0.0.5', port=8452, cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '3.3'
    assert seen(hs) == [('127.0.0.5', 8452, 'matrix.example.test', 'matrix.example.test')]
    srv = dict((s['name'], s) for s in result['srv'])
    assert srv['_matrix-fed._tcp.matrix.example.test']['used'] is True
    assert srv['_matrix._tcp.matrix.example.test']['shadowed'] is True
    assert 'srv_shadowed' in codes(result)
    assert result['targets'][0]['host'] == 'hs1.example.test'


def test_row3_4_deprecated_srv_on_delegated_name(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add_srv('_matrix._tcp.matrix.example.test', 'hs1.example.test', 8453)
    lab.dns.add('hs1.example.test', 'A', '127.0.0.5')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test')
    hs = lab.homeserver('example.test', '127.0.0.5', port=8453, cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '3.4'
    assert seen(hs) == [('127.0.0.5', 8453, 'matrix.example.test', 'matrix.example.test')]
    assert 'srv_deprecated' in codes(result, 'warning')


def test_row3_5_delegated_name_without_srv(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.6')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test')
    hs = lab.homeserver('example.test', '127.0.0.6', cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '3.5'
    assert seen(hs) == [('127.0.0.6', 8448, 'matrix.example.test', 'matrix.example.test')]
    assert ('_matrix-fed._tcp.matrix.example.test.', 'SRV') in lab.dns.queries


def test_row4_srv_on_server_name_after_well_known_404(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add_srv('_matrix-fed._tcp.example.test', 'hs.example.test', 8454)
    lab.dns.add('hs.example.test', 'A', '127.0.0.7')
    wk = lab.https('127.0.0.2', 443, ['example.test'], app=App())  # 404 for the well-known
    hs = lab.homeserver('example.test', '127.0.0.7', port=8454, cert_names=['example.test'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '4'
    assert result['well_known']['result'] == 'absent' and result['well_known']['status'] == 404
    assert wk.paths() == ['/.well-known/matrix/server']
    assert seen(hs) == [('127.0.0.7', 8454, 'example.test', 'example.test')]


def test_row5_deprecated_srv_on_server_name(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add_srv('_matrix._tcp.example.test', 'hs.example.test', 8455)
    lab.dns.add('hs.example.test', 'A', '127.0.0.7')
    lab.closed('127.0.0.2', 443)
    hs = lab.homeserver('example.test', '127.0.0.7', port=8455, cert_names=['example.test'])
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '5'
    assert 'srv_deprecated' in codes(result, 'warning')
    assert seen(hs) == [('127.0.0.7', 8455, 'example.test', 'example.test')]


def test_row6_plain_host_port_8448(lab):
    hs = lab.direct_homeserver()
    result = run(lab, 'example.test')
    assert_ok(result)
    assert result['step'] == '6'
    assert result['well_known']['result'] == 'unreachable'
    assert seen(hs) == [('127.0.0.2', 8448, 'example.test', 'example.test')]
    assert 'well_known_unreachable' in codes(result, 'info')


# ------------------------------------------------------------------ well-known failure modes
def _broken_well_known(lab, routes):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.3')
    wk = lab.https('127.0.0.2', 443, ['example.test'], app=App(routes=routes))
    hs = lab.homeserver('example.test', '127.0.0.2')  # what step 6 finds: example.test:8448
    return wk, hs


def test_well_known_malformed_falls_through_and_federates(lab):
    # Peers skip an invalid file and go on to step 4 (spec "If the response is invalid ... skip
    # to step 4"): step 6 works here, so the broken file is a warning naming the risk.
    _wk, hs = _broken_well_known(lab, {'/.well-known/matrix/server': (200, [('Content-Type', 'application/json')],
                                                                      b'{"m.server": "matrix.example.test:8448",}')})
    result = run(lab, 'example.test')
    assert result['step'] == '6'
    assert result['well_known']['result'] == 'invalid_json'
    assert 'well_known_invalid_json' in codes(result, 'warning')
    assert result['errors'] == []
    assert result['federation_ok'] is True, result['summary']
    assert result['reachable_from'] == {'synapse': True, 'dendrite': True, 'conduit': True}
    assert seen(hs) == [('127.0.0.2', 8448, 'example.test', 'example.test')]


def test_well_known_malformed_and_fallback_broken_names_the_well_known(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.https('127.0.0.2', 443, ['example.test'], app=App(routes={
        '/.well-known/matrix/server': (200, [('Content-Type', 'text/html')], b'<html>Welcome to our website</html>')}))
    lab.closed('127.0.0.2', 8448)
    result = run(lab, 'example.test')
    assert result['federation_ok'] is False
    assert result['reachable_from'] == {'synapse': False, 'dendrite': False, 'conduit': False}
    # The cause line first, then the unusable file (now an error: the fallback failed too).
    assert result['errors'][0]['code'] == 'peer_unreachable'
    assert 'well_known_invalid_json' in evidence(result)
    assert 'tcp_connect_failed' in evidence(result)


def test_well_known_redirect_loop(lab):
    wk, _hs = _broken_well_known(lab, {
        '/.well-known/matrix/server': (302, [('Location', '/elsewhere')], b''),
        '/elsewhere': (301, [('Location', 'https://example.test/.well-known/matrix/server')], b''),
    })
    result = run(lab, 'example.test')
    assert result['well_known']['result'] == 'redirect_loop'
    # Twisted's RedirectAgent and Go's http.Client give up on a loop; both then go on to step 4.
    assert 'well_known_redirect_loop' in codes(result, 'warning')
    assert result['federation_ok'] is True, result['summary']
    assert [h['status'] for h in result['well_known']['redirects']] == [302, 301]
    assert wk.paths() == ['/.well-known/matrix/server', '/elsewhere']
    assert result['step'] == '6'


def test_well_known_wrong_json_type(lab):
    # A number is no string: Synapse's .encode() and Go's json.Unmarshal both fail, and both
    # treat that as "no well-known".
    _broken_well_known(lab, {'/.well-known/matrix/server': json_response(200, {'m.server': 8448})})
    result = run(lab, 'example.test')
    assert result['well_known']['result'] == 'invalid'
    assert 'well_known_invalid_m_server' in codes(result, 'warning')
    assert result['federation_ok'] is True, result['summary']


@pytest.mark.parametrize('body, code, federates', [
    (b'["matrix.example.test"]', 'well_known_not_object', True),
    (b'{"m.homeserver": {}}', 'well_known_missing_m_server', True),
    (b'', 'well_known_invalid_json', True),  # what Caddy answers for a host with only a :8448 site
    (b'{"m.server": "' + b'a' * 60000 + b'"}', 'well_known_too_large', True),
    # A string that is not a server name is not skipped: Synapse connects to it as given,
    # Dendrite fails the resolution; neither reaches step 6.
    (b'{"m.server": "https://matrix.example.test"}', 'well_known_invalid_m_server', False),
])
def test_well_known_bad_content(lab, body, code, federates):
    _broken_well_known(lab, {'/.well-known/matrix/server': (200, [('Content-Type', 'application/json')], body)})
    result = run(lab, 'example.test')
    assert code in codes(result, 'warning' if federates else 'error')
    assert result['federation_ok'] is federates, result['summary']
    assert result['step'] == '6'


def test_well_known_wrong_content_type_and_cross_host_redirect_still_delegate(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('www.example.test', 'A', '127.0.0.3')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.4')
    lab.https('127.0.0.2', 443, ['example.test'], app=App(routes={
        '/.well-known/matrix/server': (301, [('Location', 'https://www.example.test/.well-known/matrix/server')], b'')}))
    lab.https('127.0.0.3', 443, ['www.example.test'], app=App(routes={
        '/.well-known/matrix/server': (200, [('Content-Type', 'text/plain'), ('Cache-Control', 'max-age=60')],
                                       b'{"m.server": "matrix.example.test:8448"}')}))
    hs = lab.homeserver('example.test', '127.0.0.4', cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert result['federation_ok'] is True, result['summary']
    assert result['step'] == '3.2'
    assert {'well_known_content_type', 'well_known_redirect', 'well_known_redirect_cross_host'} <= set(codes(result, 'warning'))
    assert result['well_known']['cache']['header_seconds'] == 60
    assert result['well_known']['cache']['effective_seconds'] == 300
    assert seen(hs) == [('127.0.0.4', 8448, 'matrix.example.test:8448', 'matrix.example.test')]


# ------------------------------------------------------------------ DNS failure modes
def test_srv_target_dot_means_no_service(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add_srv('_matrix-fed._tcp.example.test', '.', 0)
    lab.closed('127.0.0.2', 443)
    hs = lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test')
    assert result['step'] == '4'
    assert 'srv_no_service' in codes(result, 'error')
    assert result['federation_ok'] is False
    assert result['addresses'] == [] and hs.requests == []


def test_srv_target_cname_is_flagged(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    lab.dns.add_srv('_matrix-fed._tcp.example.test', 'alias.example.test', 8456)
    lab.dns.add_cname('alias.example.test', 'real.example.test')
    lab.dns.add('real.example.test', 'A', '127.0.0.8')
    hs = lab.homeserver('example.test', '127.0.0.8', port=8456)
    result = run(lab, 'example.test')
    assert 'srv_target_cname' in codes(result, 'warning')
    assert result['federation_ok'] is True
    assert seen(hs) == [('127.0.0.8', 8456, 'example.test', 'example.test')]


def test_srv_servfail_is_not_no_record(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    lab.dns.fail('_matrix-fed._tcp.example.test')
    hs = lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test')
    assert 'dns_servfail' in codes(result, 'error')
    assert result['srv'][0]['status'] == 'servfail'
    # Synapse fails the request on SERVFAIL (srv_resolver raises); Go's resolver error is not
    # "not found", so gomatrixserverlib falls back to <name>:8448, and so does Conduit.
    assert result['addresses'] == []
    assert result['reachable_from'] == {'synapse': False, 'dendrite': True, 'conduit': True}
    assert [a['address'] for a in result['fallback']['addresses']] == ['127.0.0.2']
    assert seen(hs) == [('127.0.0.2', 8448, 'example.test', 'example.test')]
    assert result['federation_ok'] is False
    assert 'Synapse would not reach' in result['errors'][0]['message']


def test_host_nxdomain(lab):
    result = run(lab, 'nowhere.test')
    assert result['step'] == '6'
    assert 'dns_nxdomain' in codes(result, 'error')
    assert result['federation_ok'] is False


# ------------------------------------------------------------------ TLS failure modes
def _plain(lab, **https_kwargs):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    names = https_kwargs.pop('names', ['example.test'])
    return lab.https('127.0.0.2', 8448, names, app=App(server_name='example.test'), **https_kwargs)


def test_certificate_for_wrong_name(lab):
    _plain(lab, names=['other.test'])
    result = run(lab, 'example.test')
    assert 'tls_name_mismatch' in codes(result, 'error')
    assert result['addresses'][0]['certificate']['dns_names'] == ['other.test']
    assert result['federation_ok'] is False


def test_missing_intermediate(lab):
    _plain(lab, chain='leaf_only')
    result = run(lab, 'example.test')
    assert evidence(result) == ['tls_missing_intermediate'], result['summary']
    assert result['addresses'][0]['tls']['verified'] is False
    assert result['addresses'][0]['tls']['verify_code'] == 20


def test_untrusted_root_is_not_called_missing_intermediate(lab, tmp_path):
    _plain(lab)
    # Trust only an unrelated certificate: the server sends its full chain, the root is unknown.
    other_ca = tmp_path / 'other.pem'
    with open(lab.pki.leaf(['unrelated.test'])[0]) as handle:
        first_cert = handle.read().split('-----END CERTIFICATE-----')[0]
    other_ca.write_text(first_cert + '-----END CERTIFICATE-----\n')
    result = run(lab, 'example.test', ca_path=str(other_ca))
    assert 'tls_untrusted' in codes(result, 'error')


def test_expired_certificate(lab):
    _plain(lab, expired=True)
    result = run(lab, 'example.test')
    assert 'tls_cert_expired' in codes(result, 'error')
    assert result['addresses'][0]['certificate']['seconds_left'] < 0


def test_certificate_expiring_soon_is_a_warning(lab):
    _plain(lab, days=3)
    result = run(lab, 'example.test')
    assert result['federation_ok'] is True
    assert 'tls_cert_expiring' in codes(result, 'warning')


def test_unreachable_address_among_several(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2', '127.0.0.9')
    lab.closed('127.0.0.2', 443)
    lab.closed('127.0.0.9', 8448)
    hs = lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test')
    by_ip = dict((a['address'], a) for a in result['addresses'])
    assert by_ip['127.0.0.2']['ok'] is True and by_ip['127.0.0.9']['tcp'] == 'refused'
    # Peers try each address until one connects: a warning that names the dead one.
    dead = [w for w in result['warnings'] if w['code'] == 'tcp_connect_failed']
    assert [w['address'] for w in dead] == ['127.0.0.9:8448']
    assert 'Peers reach the server another way today' in dead[0]['message']
    assert result['errors'] == []
    assert result['federation_ok'] is True, result['summary']
    assert seen(hs) == [('127.0.0.2', 8448, 'example.test', 'example.test')]


def test_aaaa_without_ipv6_listener_is_a_warning(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('example.test', 'AAAA', '::1')
    lab.closed('127.0.0.2', 443)
    lab.closed('::1', 443)
    lab.closed('::1', 8448)
    lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test')
    assert result['federation_ok'] is True, result['summary']
    assert 'ipv6_not_listening' in codes(result, 'warning')


def test_ip_version_4_skips_aaaa(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('example.test', 'AAAA', '::1')
    lab.closed('127.0.0.2', 443)
    lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test', ip_version='4')
    assert_ok(result)
    assert not [q for q in lab.dns.queries if q[1] == 'AAAA']


# ------------------------------------------------------------------ keys failure modes
@pytest.mark.parametrize('app_kwargs, code', [
    ({'key_server_name': 'other.test'}, 'keys_server_name_mismatch'),
    ({'tamper_signature': True}, 'keys_bad_signature'),
    ({'valid_for_ms': -60 * 1000}, 'keys_expired'),
])
def test_key_failures(lab, app_kwargs, code):
    lab.direct_homeserver(**app_kwargs)
    result = run(lab, 'example.test')
    assert code in codes(result, 'error')
    assert result['federation_ok'] is False


def test_keys_expiring_within_an_hour_warns(lab):
    lab.direct_homeserver(valid_for_ms=20 * 60 * 1000)
    result = run(lab, 'example.test')
    assert result['federation_ok'] is True
    assert 'keys_expiring' in codes(result, 'warning')


def test_keys_differ_between_addresses(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2', '127.0.0.10')
    lab.closed('127.0.0.2', 443)
    lab.closed('127.0.0.10', 443)
    lab.homeserver('example.test', '127.0.0.2')
    lab.homeserver('example.test', '127.0.0.10')  # another signing key
    result = run(lab, 'example.test')
    assert 'keys_differ' in codes(result, 'error')
    assert result['keys']['consistent'] is False
    assert result['federation_ok'] is False
    assert 'depends on the address' in result['errors'][0]['message']


def test_keys_wrong_content_type_and_non_json(lab):
    lab.direct_homeserver(routes={
        '/_matrix/key/v2/server': (200, [('Content-Type', 'text/html')], b'<html>proxy page</html>')})
    result = run(lab, 'example.test')
    assert {'keys_content_type', 'keys_invalid_json'} <= set(codes(result))


@pytest.mark.parametrize('status', [502, 503, 504])
def test_homeserver_down_behind_proxy_is_named(lab, status):
    # What Caddy or nginx answer themselves when the homeserver behind them is stopped: the
    # report must name the backend, and not pile proxy-routing errors on top of it.
    lab.direct_homeserver(routes={
        '/_matrix/key/v2/server': (status, [], b''),
        '/_matrix/federation/v1/version': (status, [], b''),
    })
    result = run(lab, 'example.test')
    assert result['federation_ok'] is False
    assert evidence(result) == ['backend_unavailable']
    finding = [e for e in result['errors'] if e['code'] == 'backend_unavailable'][0]
    assert 'HTTP %d from the proxy' % status in finding['message']
    assert 'Start the homeserver' in finding['fix']


# ------------------------------------------------------------------ warnings for setups that bite
def test_delegation_to_443_warns(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.3')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test:443')
    hs = lab.homeserver('example.test', '127.0.0.3', port=443, cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert result['federation_ok'] is True
    assert 'federation_port_443' in codes(result, 'warning')
    assert seen(hs) == [('127.0.0.3', 443, 'matrix.example.test:443', 'matrix.example.test')]


def test_cloudflare_in_front_warns(lab):
    lab.direct_homeserver(extra_headers={'Server': 'cloudflare', 'CF-RAY': '8a1b2c3d4e5f-AMS'})
    result = run(lab, 'example.test')
    assert 'proxy_cloudflare' in codes(result, 'warning')


# ------------------------------------------------------------------ optional groups
def test_all_groups_on_a_healthy_server(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.3')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test:8448',
                   client_base_url='https://matrix.example.test')
    hs = lab.homeserver('example.test', '127.0.0.3', cert_names=['matrix.example.test'])
    lab.https('127.0.0.3', 443, ['matrix.example.test'], app=hs.app)
    result = run(lab, 'example.test', checks=('keys', 'version', 'client', 'proxy'))
    assert_ok(result)
    assert result['warnings'] == []
    assert result['version'] == {'status': 200, 'name': 'mxfed-test', 'version': '1.0'}
    assert result['client']['versions'] == ['v1.11'] and result['client']['cors'] == '*'
    proxy = result['addresses'][0]['proxy']
    assert proxy['large_transaction']['ok'] and proxy['encoded_path']['ok']
    assert [(r['route'], r['answered_by'], r['ok']) for r in proxy['routes']] == [
        ('transactions', 'homeserver', True), ('queries', 'homeserver', True),
        ('key_queries', 'homeserver', True), ('media', 'homeserver', True)]
    assert 'Nothing to change' in result['summary']


def test_proxy_body_limit_and_path_decoding(lab):
    hs = lab.direct_homeserver(decode_paths=True)

    def nginx_like(req):
        if req['method'] == 'PUT' and req['body_size'] > 1024 * 1024:
            return 413, [('Content-Type', 'text/html')], b'<html><center>413 Request Entity Too Large</center></html>'
        return None

    hs.app.intercept(nginx_like)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    # Small transactions pass, so peers federate; the report names what breaks.
    assert {'proxy_body_limit', 'proxy_path_mangled'} <= set(codes(result, 'warning'))
    assert result['federation_ok'] is True


def test_caddy_body_limit_answers_502_and_is_named(lab):
    # Caddy 2.6's request_body { max_size } answers 502 (measured in the lab), not 413.
    hs = lab.direct_homeserver()

    def caddy_like(req):
        if req['method'] == 'PUT' and req['body_size'] > 1024 * 1024:
            return 502, [], b''
        return None

    hs.app.intercept(caddy_like)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    limit = [w for w in result['warnings'] if w['code'] == 'proxy_body_limit']
    assert limit and 'HTTP 502' in limit[0]['message'], result['summary']
    assert 'proxy_nonmatrix_response' not in codes(result)
    assert result['federation_ok'] is True


def test_inbound_worker_down_is_named_with_its_paths_not_as_a_body_limit(lab):
    # Synapse workers behind Caddy: the inbound federation pool is stopped, the readers answer.
    # Caddy answers /send itself with 502; discovery, TLS and keys pass, so peers still find the
    # server (no error), but their transactions fail: a warning naming the route and who breaks,
    # and no proxy_body_limit for the same 502.
    hs = lab.direct_homeserver()

    def inbound_down(req):
        if req['method'] == 'PUT' and req['path'].startswith('/_matrix/federation/v1/send/'):
            return 502, [('Server', 'Caddy')], b''
        return None

    hs.app.intercept(inbound_down)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    assert result['federation_ok'] is True
    found = [w for w in result['warnings'] if w['code'] == 'route_backend_unavailable']
    assert len(found) == 1, result['summary']
    assert 'PUT /_matrix/federation/v1/send/mxfed-check-' in found[0]['message']
    assert 'HTTP 502 from the proxy (Server: ' in found[0]['message']
    assert 'cannot deliver events' in found[0]['message']
    assert 'transactions' in found[0]['fix'] and 'synapse-worker@' in found[0]['fix']
    assert 'proxy_body_limit' not in codes(result)
    proxy = result['addresses'][0]['proxy']
    assert proxy['large_transaction']['ok'] is None and 'skipped' in proxy['large_transaction']
    assert proxy['encoded_path']['ok'] is True
    assert [r['route'] for r in proxy['routes'] if not r['ok']] == ['transactions']


def test_reader_pool_down_is_named_once(lab):
    hs = lab.direct_homeserver()

    def readers_down(req):
        path = req['path']
        if path.startswith(('/_matrix/federation/v1/query/', '/_matrix/federation/v1/event/')) \
                or path == '/_matrix/key/v2/query':
            return 503, [], b''
        return None

    hs.app.intercept(readers_down)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    assert result['federation_ok'] is True
    down = sorted(w['message'].split(' ')[1].split('?')[0] for w in result['warnings']
                  if w['code'] == 'route_backend_unavailable')
    assert down == ['/_matrix/federation/v1/query/profile', '/_matrix/key/v2/query'], result['summary']
    # The encoded-path probe goes to the same pool: skipped, not a second finding.
    assert 'proxy_nonmatrix_response' not in codes(result)
    assert result['addresses'][0]['proxy']['encoded_path']['ok'] is None


def test_media_not_routed_by_the_proxy_is_named(lab):
    hs = lab.direct_homeserver()

    def no_media_route(req):
        if req['path'].startswith('/_matrix/federation/v1/media/'):
            return 404, [('Content-Type', 'text/html')], b'<html>404 Not Found</html>'
        return None

    hs.app.intercept(no_media_route)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    found = [w for w in result['warnings'] if w['code'] == 'proxy_nonmatrix_response']
    assert len(found) == 1 and '/_matrix/federation/v1/media/download/' in found[0]['message']
    assert 'download this server' in found[0]['message']
    assert 'route_backend_unavailable' not in codes(result)


def test_dendrite_style_auth_error_counts_as_the_homeserver(lab):
    # Dendrite 0.13 rejects unauthenticated federation requests with 401 and
    # {"message": "Missing \"Authorization: X-Matrix ...\" HTTP header"} (no errcode), measured
    # through Caddy in the lab. That is the homeserver answering, not a proxy.
    hs = lab.direct_homeserver()

    def dendrite_like(req):
        if req['path'].startswith('/_matrix/federation/v1/send/') or req['path'].startswith('/_matrix/federation/v1/event/'):
            return json_response(401, {'message': 'Missing "Authorization: X-Matrix ..." HTTP header'})
        return None

    hs.app.intercept(dendrite_like)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    assert result['federation_ok'] is True
    assert not [c for c in codes(result) if c.startswith('proxy_')]


def test_proxy_own_401_page_is_not_the_homeserver(lab):
    hs = lab.direct_homeserver()

    def basic_auth_proxy(req):
        if req['path'].startswith('/_matrix/federation/'):
            return 401, [('Content-Type', 'text/html')], b'<html>401 Authorization Required</html>'
        return None

    hs.app.intercept(basic_auth_proxy)
    result = run(lab, 'example.test', checks=('keys', 'proxy'))
    assert 'proxy_nonmatrix_response' in codes(result, 'warning')


def test_client_well_known_without_cors(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.homeserver('example.test', '127.0.0.2')
    lab.well_known('example.test', '127.0.0.2', routes={
        '/.well-known/matrix/client': json_response(200, {'m.homeserver': {'base_url': 'https://example.test'}})})
    result = run(lab, 'example.test', checks=('keys', 'client'))
    assert 'client_cors_missing' in codes(result, 'warning')
    assert 'client_versions_failed' in codes(result, 'warning')  # base_url's :443 has no client API


# ------------------------------------------------------------------ input, many names
@pytest.mark.parametrize('bad', ['', 'https://example.test', 'example.test/path', 'example.test:0',
                                 'example.test:70000', '[::1', '::1'])
def test_bad_input_makes_no_traffic(lab, bad):
    network = lab.network()
    with pytest.raises(ServerNameError):
        check_server(bad, network)
    assert lab.dns.queries == []
    assert lab.connects == []


def test_check_many_keeps_order_and_reports_bad_names(lab):
    lab.direct_homeserver()
    results = check_many(['example.test', 'bad name', 'example.test'], lab.network(), checks=KEYS, concurrency=4)
    assert [r['federation_ok'] for r in results] == [True, False, True]
    assert results[1]['errors'][0]['code'] == 'name_invalid'


def test_check_many_verdict_does_not_depend_on_the_names_beside_it(lab):
    # Six hostile names, each with 5 SRV targets x 4 addresses that accept TCP and never answer
    # (every probe runs to its deadline), checked two at a time with a healthy name queued among
    # them. With one thread pool shared by all names, the healthy name's DNS lookups and probes
    # waited behind the hostile probes and ran out of their step deadlines: it failed in about
    # half the runs, and hostile names got "SRV lookup failed (timeout)" from a DNS server that
    # answers at once. Each name now has its own pool, as when it is checked alone.
    lab.direct_homeserver('healthy.test', '127.0.0.2')
    hostile = []
    for i in range(6):
        name = 'h%d.test' % i
        hostile.append(name)
        lab.dns.add(name, 'A', '127.0.1.%d' % (i + 1))
        lab.closed('127.0.1.%d' % (i + 1), 443)
        for t in range(5):
            target = 't%d.%s' % (t, name)
            lab.dns.add_srv('_matrix-fed._tcp.' + name, target, 8448)
            for a in range(4):
                ip = '127.0.%d.%d' % (10 + i, t * 4 + a + 1)
                lab.dns.add(target, 'A', ip)
                lab.silent(ip, 8448)
    names = hostile[:3] + ['healthy.test'] + hostile[3:] + ['healthy.test']
    results = check_many(names, lab.network(timeout=1.0), checks=KEYS, concurrency=2)
    assert [r['server_name'] for r in results] == names
    healthy = [r for r in results if r['server_name'] == 'healthy.test']
    assert [r['federation_ok'] for r in healthy] == [True, True], [r['summary'] for r in healthy]
    for result in results:
        assert 'dns_timeout' not in codes(result), result['summary']
        assert 'failed (timeout)' not in result['summary'], result['summary']
        assert result['elapsed'] <= 3 * 1.0 + 1.0 + 0.5, result['summary']


# ------------------------------------------------------------------ DNS transport
def test_truncated_udp_answer_is_retried_over_tcp(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.dns.truncate.add('example.test.')
    lab.closed('127.0.0.2', 443)
    hs = lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test')
    assert_ok(result)
    assert seen(hs) == [('127.0.0.2', 8448, 'example.test', 'example.test')]


def test_silent_nameserver_is_a_timeout(lab):
    import socket
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(('127.0.0.54', 0))  # receives queries, never answers
    try:
        result = run(lab, 'example.test:8448', nameservers=['127.0.0.54'], dns_port=silent.getsockname()[1], timeout=0.5)
    finally:
        silent.close()
    assert 'dns_timeout' in codes(result, 'error')
    assert result['federation_ok'] is False


def test_wrong_intermediate_sent_is_still_missing_intermediate(lab, tmp_path):
    certfile, keyfile = lab.pki.leaf(['example.test'], chain='leaf_only')
    other_certfile = lab.pki.leaf(['unrelated.test'])[0]
    with open(other_certfile) as handle:
        unrelated_leaf = handle.read().split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n'
    bundle = tmp_path / 'wrong-chain.pem'
    with open(certfile) as handle:
        bundle.write_text(handle.read() + unrelated_leaf)
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    from _lab import HttpsServer
    server = HttpsServer('127.0.0.2', 8448, str(bundle), keyfile, App(server_name='example.test'))
    lab.port_map[('127.0.0.2', 8448)] = ('127.0.0.2', server.real_port)
    lab.servers.append(server)
    result = run(lab, 'example.test')
    assert evidence(result) == ['tls_missing_intermediate'], result['summary']
    assert len(result['addresses'][0]['tls']['chain']) == 2


def test_well_known_differs_between_addresses(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2', '127.0.0.11')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.3')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test:8448')
    other = lab.well_known('example.test', '127.0.0.11', m_server='old.example.test:8448')
    lab.homeserver('example.test', '127.0.0.3', cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert 'well_known_inconsistent' in codes(result, 'error')
    assert sorted(p['address'] for p in result['well_known']['per_address']) == ['127.0.0.11', '127.0.0.2']
    assert set(other.paths()) == {'/.well-known/matrix/server'}  # probed (and maybe chosen first)
    assert result['federation_ok'] is False


def test_well_known_address_unreachable_warns(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2', '127.0.0.11')
    lab.dns.add('matrix.example.test', 'A', '127.0.0.3')
    lab.well_known('example.test', '127.0.0.2', m_server='matrix.example.test:8448')
    lab.closed('127.0.0.11', 443)
    lab.homeserver('example.test', '127.0.0.3', cert_names=['matrix.example.test'])
    result = run(lab, 'example.test')
    assert result['federation_ok'] is True, result['summary']
    assert codes(result, 'warning') == ['well_known_address_unreachable']
    assert result['step'] == '3.2'


# ------------------------------------------------------------------ the verdict: what peers skip past
# Each class the reference tester (and our check before) failed while real homeservers federate,
# and the ones where Synapse and Dendrite differ (docs/delegation_check.md, "What each
# implementation does"). timeout=1: a blackholed address costs the check one second.
def test_html_catch_all_well_known_with_srv_fallback_federates(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.https('127.0.0.2', 443, ['example.test'], app=App(routes={
        '/.well-known/matrix/server': (200, [('Content-Type', 'text/html')], b'<!doctype html><title>Our site</title>')}))
    lab.dns.add_srv('_matrix-fed._tcp.example.test', 'hs.example.test', 8460)
    lab.dns.add('hs.example.test', 'A', '127.0.0.3')
    hs = lab.homeserver('example.test', '127.0.0.3', port=8460, cert_names=['example.test'])
    result = run(lab, 'example.test')
    assert result['step'] == '4'
    assert result['federation_ok'] is True, result['summary']
    assert result['reachable_from'] == {'synapse': True, 'dendrite': True, 'conduit': True}
    assert {'well_known_invalid_json', 'well_known_content_type'} <= set(codes(result, 'warning'))
    assert seen(hs) == [('127.0.0.3', 8460, 'example.test', 'example.test')]


def test_blackholed_address_among_several_is_a_warning(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2', '127.0.0.12')
    lab.closed('127.0.0.2', 443)
    lab.closed('127.0.0.12', 443)
    lab.blackhole('127.0.0.12', 8448)
    lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test', timeout=1)
    assert result['federation_ok'] is True, result['summary']
    assert result['reachable_from'] == {'synapse': True, 'dendrite': True, 'conduit': True}
    dead = [w for w in result['warnings'] if w['code'] == 'tcp_connect_failed']
    assert [w['address'] for w in dead] == ['127.0.0.12:8448'] and 'timed out' in dead[0]['message']
    assert any('127.0.0.12' in item for item in result['reachability']['dendrite']['skipped'])


def _two_srv_targets(lab, first):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    lab.dns.add_srv('_matrix-fed._tcp.example.test', 'a.example.test', 8461, priority=0)
    lab.dns.add_srv('_matrix-fed._tcp.example.test', 'b.example.test', 8462, priority=10)
    lab.dns.add('a.example.test', 'A', '127.0.0.13')
    lab.dns.add('b.example.test', 'A', '127.0.0.14')
    if first == 'refused':
        lab.closed('127.0.0.13', 8461)
    elif first == 'blackholed':
        lab.blackhole('127.0.0.13', 8461)
    elif first == 'wrong_certificate':
        lab.homeserver('example.test', '127.0.0.13', port=8461, cert_names=['a.example.test'])
    return lab.homeserver('example.test', '127.0.0.14', port=8462, cert_names=['example.test'])


@pytest.mark.parametrize('first, synapse, dendrite', [
    # Both move on to the next target at once when the first refuses.
    ('refused', True, True),
    # Synapse waits for Twisted's 30 s connect timeout, longer than its 10 s deadline for key
    # fetches and queries; Go's dialer gives up after 5 s and gomatrixserverlib moves on.
    ('blackholed', False, True),
    # Synapse's TLS failure comes after the connection and fails the request; Dendrite tries the
    # next resolution result on any error.
    ('wrong_certificate', False, True),
])
def test_first_srv_target_dead(lab, first, synapse, dendrite):
    hs = _two_srv_targets(lab, first)
    result = run(lab, 'example.test', timeout=1)
    assert result['reachable_from']['synapse'] is synapse, result['summary']
    assert result['reachable_from']['dendrite'] is dendrite, result['summary']
    assert result['federation_ok'] is (synapse and dendrite and result['reachable_from']['conduit'])
    assert seen(hs) == [('127.0.0.14', 8462, 'example.test', 'example.test')]
    if not synapse:
        assert result['errors'][0]['code'] == 'peer_unreachable'
        assert result['errors'][0]['message'].startswith('Synapse would not reach example.test')
    # The same route, enforced for Dendrite only: it passes, and Synapse's verdict is a warning.
    only_dendrite = check_server('example.test', lab.network(timeout=1), checks=KEYS, implementations=['dendrite'])
    assert only_dendrite['federation_ok'] is dendrite
    if not synapse:
        assert 'peer_unreachable_other' in codes(only_dendrite, 'warning')


def test_well_known_timeout_with_broken_fallback_names_the_timeout_first(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.silent('127.0.0.2', 443)  # accepts, never answers
    lab.closed('127.0.0.2', 8448)
    result = run(lab, 'example.test', timeout=1)
    assert result['well_known']['result'] == 'timeout'
    assert result['federation_ok'] is False
    first = result['errors'][0]
    assert first['code'] == 'peer_unreachable'
    assert 'the well-known request timed out' in first['message']
    assert 'well_known_timeout' in evidence(result)


@pytest.mark.parametrize('hang, phase, dendrite', [
    # A handshake that never answers: Go's default transport gives up after 10 s and Dendrite
    # falls back within its 30 s (measured in the differential lab: reached in 10.1 s).
    ('silent', 'tls', True),
    # A dropped SYN: Go's dialer waits 30 s, then the fallback within the query's 5 minutes.
    ('blackhole', 'connect', True),
])
def test_well_known_timeout_fails_synapse_even_when_the_fallback_works(lab, hang, phase, dendrite):
    # Synapse's well-known fetch has no deadline of its own: the 10 s of the key fetch runs out
    # before it reaches step 4.
    lab.dns.add('example.test', 'A', '127.0.0.2')
    getattr(lab, hang)('127.0.0.2', 443)
    hs = lab.homeserver('example.test', '127.0.0.2')
    result = run(lab, 'example.test', timeout=1)
    assert result['well_known']['timeout_phase'] == phase
    assert result['reachable_from'] == {'synapse': False, 'dendrite': dendrite, 'conduit': True}, result['summary']
    assert seen(hs) == [('127.0.0.2', 8448, 'example.test', 'example.test')]  # the check looked anyway


def test_federation_port_that_accepts_and_never_answers(lab):
    lab.dns.add('example.test', 'A', '127.0.0.2')
    lab.closed('127.0.0.2', 443)
    lab.silent('127.0.0.2', 8448)
    result = run(lab, 'example.test', timeout=1)
    assert result['federation_ok'] is False
    assert result['addresses'][0]['tcp'] == 'ok' and result['addresses'][0]['hung'] is True
    assert 'does not answer' in result['errors'][0]['message']
