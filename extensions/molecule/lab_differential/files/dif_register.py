#!/usr/bin/env python3
"""Wait for every Synapse identity of the differential lab, then make sure each has its probe
user (@probe:<server name>, display name "dif <setup id>") through the loopback admin
shared-secret registration API (test harness, stdlib only).

Input: a JSON file {"secret_file", "timeout", "identities": [{"id", "server_name", "port"}]}.
Prints {"changed": [ids], "ready_seconds": s, "failed": {id: reason}}; exit 1 on failure.
"""
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b'{}')
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b'{}')
        except ValueError:
            return e.code, {}


def main(path):
    spec = json.load(open(path))
    secret = open(spec['secret_file']).read().strip().encode()
    start = time.monotonic()
    pending = {i['id']: i for i in spec['identities']}
    failed = {}
    while pending and time.monotonic() - start < spec.get('timeout', 300):
        for sid, ident in list(pending.items()):
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/health' % ident['port'], timeout=2) as r:
                    if r.status == 200:
                        del pending[sid]
            except OSError:
                pass
        if pending:
            time.sleep(1)
    ready = round(time.monotonic() - start, 1)
    for sid in pending:
        failed[sid] = 'not answering /health after %ss' % spec.get('timeout', 300)
    changed = []
    for ident in spec['identities']:
        if ident['id'] in failed:
            continue
        base = 'http://127.0.0.1:%d' % ident['port']
        user = '@probe:%s' % ident['server_name']
        want = 'dif %s' % ident['id']
        status, body = call('%s/_matrix/client/v3/profile/%s' % (base, urllib.parse.quote(user)))
        if status == 200 and body.get('displayname') == want:
            continue
        status, body = call(base + '/_synapse/admin/v1/register')
        nonce = body.get('nonce')
        mac = hmac.new(secret, digestmod=hashlib.sha1)
        for part in (nonce.encode(), b'probe', b'probe-' + ident['id'].encode(), b'notadmin'):
            mac.update(part + (b'\x00' if part != b'notadmin' else b''))
        status, body = call(base + '/_synapse/admin/v1/register', {
            'nonce': nonce, 'username': 'probe', 'password': 'probe-' + ident['id'], 'displayname': want,
            'admin': False, 'mac': mac.hexdigest()}, timeout=30)
        if status != 200:
            failed[ident['id']] = 'register: %s %s' % (status, body)
        else:
            changed.append(ident['id'])
    print(json.dumps({'changed': changed, 'ready_seconds': ready, 'failed': failed}))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main(sys.argv[1])
