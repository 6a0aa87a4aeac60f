# -*- coding: utf-8 -*-
"""dif_plan: turn vars/setups.yml into the differential lab's pieces (test harness, not collection API).

One function, one input: the setups and their address symbols. Everything the lab builds for a
setup (DNS lines, Caddy sites, odd listeners, certificates, the Synapse identity, the probe) comes
from here, so a setup is described once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

from ansible.errors import AnsibleFilterError

IDENTITY_BASE_PORT = 8100
CERT_DIR = '/etc/dif/certs'
KEYS = {'id', 'desc', 'name', 'a', 'srv', 'cname', 'extra', 'web', 'fed', 'odd', 'identity', 'expect', 'step'}
HTML = ('<!doctype html><html><head><title>Welcome</title></head>'
        '<body><h1>Our website</h1><p>Every path answers this page.</p></body></html>')


def _fmt(value, d):
    """Replace {d} (the setup's domain) in strings, recursively."""
    if isinstance(value, str):
        return value.replace('{d}', d)
    if isinstance(value, list):
        return [_fmt(v, d) for v in value]
    if isinstance(value, dict):
        return dict((_fmt(k, d), _fmt(v, d)) for k, v in value.items())
    return value


def _addr(symbol, addresses, where):
    if symbol not in addresses:
        raise AnsibleFilterError('%s: unknown address symbol %r (dif_addresses has %s)'
                                 % (where, symbol, ', '.join(sorted(addresses))))
    return str(addresses[symbol])


def _is_v6(ip):
    return ipaddress.ip_address(ip).version == 6


def _cert_file(names):
    slug = re.sub(r'[^a-z0-9.-]+', '_', '+'.join(names).lower())
    return '%s/%s.pem' % (CERT_DIR, slug)


def _bind(ips):
    return ' '.join('[%s]' % ip if _is_v6(ip) else ip for ip in ips)


def _caddy_quote(text):
    if '`' in text:
        raise AnsibleFilterError('a Caddy body may not contain a backtick: %r' % text)
    return '`%s`' % text


def _web_body(web):
    """Caddyfile directives of a server name's 443 site (its /.well-known/matrix/server)."""
    path = '/.well-known/matrix/server'
    if web.get('catchall_html'):
        return ['header Content-Type "text/html; charset=utf-8"', 'respond %s 200' % _caddy_quote(HTML)]
    lines = ['handle %s {' % path]
    if 'json' in web:
        lines += ['\theader Content-Type application/json',
                  '\trespond %s 200' % _caddy_quote(json.dumps(web['json'], sort_keys=True))]
    elif 'redirect' in web:
        lines += ['\tredir %s %d' % (web['redirect'], int(web.get('code', 301)))]
    elif 'status' in web:
        if web.get('type'):
            lines += ['\theader Content-Type "%s"' % web['type']]
        body = web.get('body', '')
        lines += ['\trespond %s%d' % ((_caddy_quote(body) + ' ') if body else '', int(web['status']))]
    else:
        raise AnsibleFilterError('web site %s: give json, redirect, status or catchall_html' % web.get('host'))
    lines += ['}', 'handle {', '\trespond 404', '}']
    return lines


def dif_plan(setups, addresses):
    """Return {'setups': [...], 'dns_lines', 'caddy_sites', 'odd', 'certs', 'identities', 'extra_ips'}."""
    seen = set()
    plan = {'setups': [], 'dns_lines': [], 'caddy_sites': [], 'odd': [], 'certs': [], 'identities': [],
            'extra_ips': []}
    certs = {}
    default_bind = [str(addresses['T'])]
    for index, raw in enumerate(setups):
        sid = raw.get('id')
        if not sid or sid in seen:
            raise AnsibleFilterError('setup ids must be present and distinct: %r' % sid)
        seen.add(sid)
        unknown = set(raw) - KEYS
        if unknown:
            raise AnsibleFilterError('setup %s: unknown keys %s' % (sid, ', '.join(sorted(unknown))))
        if not raw.get('desc') or 'expect' not in raw:
            raise AnsibleFilterError('setup %s: desc and expect are required' % sid)
        d = '%s.test' % sid
        s = _fmt(raw, d)
        name = s.get('name', d)
        port = IDENTITY_BASE_PORT + 1 + index
        identity = dict(s.get('identity') or {})
        identity.setdefault('server_name', name)
        identity.update({'id': sid, 'port': port})
        plan['identities'].append(identity)

        for host, symbols in (s.get('a') or {}).items():
            for symbol in symbols:
                plan['dns_lines'].append('host-record=%s,%s' % (host, _addr(symbol, addresses, sid)))
        for r in s.get('srv') or []:
            plan['dns_lines'].append('srv-host=%s,%s,%d,%d,%d' % (
                r['name'], r['target'], int(r['port']), int(r.get('priority', 0)), int(r.get('weight', 0))))
        for r in s.get('cname') or []:
            plan['dns_lines'].append('cname=%s,%s' % (r['name'], r['target']))
        plan['dns_lines'] += list(s.get('extra') or [])

        def cert_for(names):
            path = _cert_file(names)
            certs[path] = list(names)
            return path

        for web in s.get('web') or []:
            binds = [_addr(b, addresses, sid) for b in web.get('bind', ['T'])]
            cert = cert_for(web.get('cert', [web['host']]))
            plan['caddy_sites'].append({'setup': sid, 'address': 'https://%s' % web['host'], 'bind': _bind(binds),
                                        'cert': cert, 'key': '%s/leaf.key' % CERT_DIR, 'body': _web_body(web)})
        for fed in s.get('fed') or []:
            binds = [_addr(b, addresses, sid) for b in fed.get('bind', ['T'])]
            cert = cert_for(fed.get('cert', [fed['host']]))
            body = []
            if fed.get('body_limit'):
                body += ['request_body {', '\tmax_size %s' % fed['body_limit'], '}']
            body += ['reverse_proxy 127.0.0.1:%d' % port]
            address = 'https://%s' % fed['host'] + ('' if int(fed['port']) == 443 else ':%d' % int(fed['port']))
            plan['caddy_sites'].append({'setup': sid, 'address': address, 'bind': _bind(binds), 'cert': cert,
                                        'key': '%s/leaf.key' % CERT_DIR, 'body': body})
        for odd in s.get('odd') or []:
            entry = {'setup': sid, 'kind': odd['kind'], 'address': _addr(odd['bind'], addresses, sid),
                     'port': int(odd['port'])}
            if odd['kind'] in ('tls', 'stall'):
                entry.update({'cert': cert_for(odd['cert']), 'key': '%s/leaf.key' % CERT_DIR, 'backend': port})
            elif odd['kind'] != 'hang':
                raise AnsibleFilterError('setup %s: odd listener kind must be tls, stall or hang' % sid)
            plan['odd'].append(entry)

        server_name = identity['server_name']
        plan['setups'].append({
            'id': sid, 'desc': s['desc'], 'server_name': name, 'identity_server_name': server_name,
            'identity_port': port, 'step': str(s.get('step', '')),
            'user_id': '@probe:%s' % name, 'displayname': 'dif %s' % sid,
            'expect': s['expect'],
        })

    # The 443 listener that accepts and never answers: one for every setup that points at H.
    plan['odd'].append({'setup': '', 'kind': 'hang', 'address': str(addresses['H']), 'port': 443})
    # Addresses on dif-tgt whose inbound packets are dropped without an answer (nftables).
    plan['drop_ips'] = sorted(str(ip) for symbol, ip in addresses.items() if symbol.startswith('D'))
    # Addresses that must exist on dif-tgt: everything symbolic but the blackholes.
    for symbol, ip in sorted(addresses.items()):
        ip = str(ip)
        if symbol.startswith('B') or ip in (str(addresses['T']), str(addresses['T6'])):
            continue
        plan['extra_ips'].append('%s/%d' % (ip, 64 if _is_v6(ip) else 24))
    plan['certs'] = [{'file': path, 'names': names} for path, names in sorted(certs.items())]
    plan['default_bind'] = default_bind
    return plan


class FilterModule(object):
    def filters(self):
        return {'dif_plan': dif_plan}
