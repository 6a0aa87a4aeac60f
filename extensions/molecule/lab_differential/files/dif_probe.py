#!/usr/bin/env python3
"""A judge of the differential lab federates with every setup (test harness, stdlib only).

Run ON a judge homeserver. Registers (or logs in) the judge user through the loopback admin
shared-secret API, then, concurrently for all setups and with one bounded wait:
  phase 1, profile: GET /_matrix/client/v3/profile/@probe:<setup>. The judge must resolve the
     setup, connect, verify TLS and send a signed request the setup's homeserver accepts (which
     makes that homeserver fetch the judge's keys). 200 with the setup's display name means
     the judge reached the setup's own identity.
  phase 2, keys: POST /_matrix/key/v2/query {"server_keys": {<setup>: {<key id>: {}}}} on the
     judge (its notary endpoint): the judge fetches and verifies the setup's keys itself.
  phase 3, profile_again: the profile query once more, seconds later: what a second contact
     does once the judge has cached what the first one learnt (a failed well-known, a route).
Dendrite answers its notary endpoint only for the server name in the Host header (keys.go,
NotaryKeys), so the key query carries Host: <the judge's server name>.
Input: a JSON file {"base", "host", "secret_file", "user", "deadline", "setups": [{"id", "server_name",
"user_id", "displayname", "key_id"}]}. Prints one JSON document {"judge", "started", "results": {id: ...}}.
"""
import concurrent.futures
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(url, body=None, token=None, timeout=30, method=None, host=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {'Content-Type': 'application/json'}
    if host:
        headers['Host'] = host
    if token:
        headers['Authorization'] = 'Bearer ' + token
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    except OSError as e:
        return {'status': None, 'error': 'client: %s' % e, 'seconds': round(time.monotonic() - start, 2)}
    out = {'status': status, 'seconds': round(time.monotonic() - start, 2)}
    try:
        out['body'] = json.loads(raw or b'{}')
    except ValueError:
        out['body'] = raw[:300].decode('utf-8', 'replace')
    return out


def token_for(base, secret_file, user):
    secret = open(secret_file).read().strip().encode()
    password = 'judge-' + user
    nonce = call(base + '/_synapse/admin/v1/register')['body']['nonce']
    mac = hmac.new(secret, digestmod=hashlib.sha1)
    mac.update(nonce.encode() + b'\x00' + user.encode() + b'\x00' + password.encode() + b'\x00notadmin')
    reg = call(base + '/_synapse/admin/v1/register', {'nonce': nonce, 'username': user, 'password': password,
                                                      'admin': False, 'mac': mac.hexdigest()})
    if reg['status'] == 200:
        return reg['body']['access_token']
    login = call(base + '/_matrix/client/v3/login', {'type': 'm.login.password', 'password': password,
                                                     'identifier': {'type': 'm.id.user', 'user': user}})
    if login['status'] != 200:
        raise SystemExit(json.dumps({'error': 'judge login failed', 'register': reg, 'login': login}))
    return login['body']['access_token']


def profile(base, token, setup, timeout):
    r = call('%s/_matrix/client/v3/profile/%s' % (base, urllib.parse.quote(setup['user_id'])),
             token=token, timeout=timeout)
    body = r.get('body') if isinstance(r.get('body'), dict) else {}
    r['errcode'] = body.get('errcode')
    r['reached'] = r['status'] == 200 and body.get('displayname') == setup['displayname']
    return r


def keys(base, setup, timeout, host):
    name = setup['server_name']
    # A key ID makes the judge fetch (an empty request only reads its cache): the ID of the key
    # that the setup's identity signs with, as when a peer verifies that server's signature.
    wanted = {setup['key_id']: {'minimum_valid_until_ts': 0}} if setup.get('key_id') else {}
    r = call(base + '/_matrix/key/v2/query', {'server_keys': {name: wanted}}, timeout=timeout, method='POST',
             host=host)
    body = r.get('body') if isinstance(r.get('body'), dict) else {}
    got = [k for k in body.get('server_keys', []) if k.get('server_name') == name and k.get('verify_keys')]
    r['verified'] = bool(got)
    r['key_ids'] = sorted(k for entry in got for k in entry['verify_keys'])
    r.pop('body', None) if r['verified'] else None
    return r


def main(path):
    spec = json.load(open(path))
    base, deadline = spec['base'], spec['deadline']
    token = token_for(base, spec['secret_file'], spec['user'])
    started = time.time()
    results = {s['id']: {} for s in spec['setups']}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(spec['setups'])) as pool:
        for phase, fn in (('profile', lambda s: profile(base, token, s, deadline)),
                          ('keys', lambda s: keys(base, s, deadline, spec['host'])),
                          ('profile_again', lambda s: profile(base, token, s, deadline))):
            futures = {pool.submit(fn, s): s['id'] for s in spec['setups']}
            done, not_done = concurrent.futures.wait(futures, timeout=deadline + 10)
            for f in done:
                results[futures[f]][phase] = f.result()
            for f in not_done:
                results[futures[f]][phase] = {'status': None, 'error': 'no answer within %ss' % deadline,
                                              'seconds': deadline}
    print(json.dumps({'started': started, 'finished': time.time(), 'results': results}, sort_keys=True))


if __name__ == '__main__':
    main(sys.argv[1])
