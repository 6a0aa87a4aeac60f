# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Child process of the hostile-server tests (see _hostile.py): one client call, measured.

argv[1] is a JSON spec: {"kind": "http", ...} or {"kind": "dns", ...}. Prints one JSON line:
{"result": ..., "wall": seconds, "peak_mb": VmHWM in MiB}.
"""

from __future__ import absolute_import, division, print_function

import json
import socket
import sys
import time


def peak_mb():
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    return -1.0


class _PlainNetwork(object):
    """connect_tls without TLS: the framing under test is the same."""

    def __init__(self, timeout):
        self.timeout = timeout

    def connect_tls(self, ip, port, sni, deadline=None):
        return socket.create_connection((ip, port), timeout=self.timeout), None


def run_http(spec):
    from ansible_collections.mxfed.federation.plugins.module_utils._errors import TransportError
    from ansible_collections.mxfed.federation.plugins.module_utils._http import HttpSession

    network = _PlainNetwork(spec['timeout'])
    session = HttpSession(network, spec['ip'], spec['port'], None, 'hostile.test')
    body = b'x' * spec['body_size'] if spec.get('body_size') else None
    out = []
    for _index in range(spec.get('requests', 1)):
        try:
            response = session.request(spec.get('method', 'GET'), spec.get('path', '/'), body=body, limit=spec['limit'])
            out.append({'status': response.status, 'size': len(response.body), 'truncated': response.truncated})
        except TransportError as exc:
            out.append({'error': type(exc).__name__, 'kind': exc.kind, 'message': exc.message})
    session.close()
    return out if len(out) > 1 else out[0]


def run_dns(spec):
    from ansible_collections.mxfed.federation.plugins.module_utils._dns import DnsClient

    client = DnsClient(nameservers=spec['nameservers'], port=spec['port'], timeout=spec['timeout'])
    if spec.get('many'):
        answers = client.lookup_many([tuple(q) for q in spec['many']])
        return [a.as_dict() for a in answers]
    return client.lookup(spec['name'], spec.get('rdtype', 'A')).as_dict()


def run_check(spec):
    """One whole check_server() against the loopback lab of the parent (its port map given)."""
    from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_server
    from ansible_collections.mxfed.federation.plugins.module_utils._network import Network

    port_map = dict(((ip, port), (rip, rport)) for ip, port, rip, rport in spec['port_map'])
    network = Network(nameservers=spec['nameservers'], dns_port=spec['dns_port'], ca_path=spec['ca_path'],
                      timeout=spec['timeout'], port_map=port_map)
    out = check_server(spec['server_name'], network, checks=tuple(spec.get('checks', ('keys',))))
    findings = out['errors'] + out['warnings'] + out['notes']
    return {'codes': [f['code'] for f in findings], 'messages': [f['message'][:300] for f in findings],
            'federation_ok': out['federation_ok'], 'step': out['step'], 'elapsed': out['elapsed'],
            'targets': len(out.get('targets') or []), 'unchecked_targets': len(out.get('unchecked_targets') or [])}


def main():
    spec = json.loads(sys.argv[1])
    runner = {'http': run_http, 'dns': run_dns, 'check': run_check}[spec['kind']]
    start = time.monotonic()
    result = runner(spec)
    wall = time.monotonic() - start
    print(json.dumps({'result': result, 'wall': round(wall, 3), 'peak_mb': round(peak_mb(), 1)}))


if __name__ == '__main__':
    main()
