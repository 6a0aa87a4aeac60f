#!/usr/bin/env python3
"""The differential lab's Synapse identities: one config, signing key and SQLite DB per setup,
all run from ONE venv as dif-synapse@<id> (test harness).

Run with the Synapse venv's Python. Input: a JSON file {"root", "data", "template_db",
"secret_file", "user", "ca_files", "allow", "identities": [{"id", "server_name", "port"}]}.
Schema creation is the expensive part of a first start, so one template database is made once
(`update_synapse_database`, no server started) and copied for every identity that has none.
Writes only what is missing or differs; prints {"changed": [ids], "template_seconds": s}.
"""
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time

LOG_CONFIG = {
    'version': 1,
    'formatters': {'precise': {'format': '%(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'}},
    'filters': {'context': {'()': 'synapse.logging.context.LoggingContextFilter', 'request': ''}},
    'handlers': {'console': {'class': 'logging.StreamHandler', 'formatter': 'precise', 'filters': ['context']}},
    'loggers': {'synapse.storage.SQL': {'level': 'WARNING'}, 'synapse.access.http': {'level': 'INFO'}},
    'root': {'level': 'INFO', 'handlers': ['console']},
    'disable_existing_loggers': False,
}


def write_if_changed(path, content, mode=0o640, uid=None):
    old = open(path).read() if os.path.exists(path) else None
    if old == content:
        return False
    with open(path, 'w') as f:
        f.write(content)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, 0, uid)
    return True


def config(spec, ident, secret):
    base = os.path.join(spec['root'], ident['id'])
    data = os.path.join(spec['data'], ident['id'])
    return {
        'server_name': ident['server_name'],
        'pid_file': os.path.join(data, 'homeserver.pid'),
        'public_baseurl': 'https://%s/' % ident['server_name'],
        'listeners': [{'port': ident['port'], 'bind_addresses': ['127.0.0.1'], 'type': 'http', 'tls': False,
                       'x_forwarded': True, 'resources': [{'names': ['client', 'federation'], 'compress': False}]}],
        'database': {'name': 'sqlite3', 'args': {'database': os.path.join(data, 'homeserver.db')}},
        'log_config': os.path.join(base, 'log.yaml'),
        'media_store_path': os.path.join(data, 'media'),
        'signing_key_path': os.path.join(base, 'signing.key'),
        'trusted_key_servers': [],
        'suppress_key_server_warning': True,
        'report_stats': False,
        'registration_shared_secret': secret,
        'macaroon_secret_key': secret + ident['id'],
        'form_secret': secret + ident['id'] + '-form',
        'federation_custom_ca_list': spec['ca_files'],
        'ip_range_whitelist': spec['allow'],
        'enable_metrics': False,
        'caches': {'global_factor': 0.1},
        'rc_federation': {'window_size': 1000, 'sleep_limit': 1000, 'sleep_delay': 0, 'reject_limit': 1000,
                          'concurrent': 100},
    }


def main(path):
    spec = json.load(open(path))
    user = pwd.getpwnam(spec['user'])
    py = sys.executable
    if os.path.exists(spec['secret_file']):
        secret = open(spec['secret_file']).read().strip()
    else:
        secret = secrets.token_urlsafe(32)
        write_if_changed(spec['secret_file'], secret + '\n', 0o600)
    changed, template_seconds = [], None
    os.makedirs(spec['data'], exist_ok=True)
    if not os.path.exists(spec['template_db']):
        start = time.monotonic()
        tmp = spec['template_db'] + '.yaml'
        tmp_key = spec['template_db'] + '.signing.key'
        subprocess.run([py, '-m', 'synapse._scripts.generate_signing_key', '-o', tmp_key], check=True)
        with open(tmp, 'w') as f:
            json.dump({'server_name': 'template.invalid', 'report_stats': False, 'signing_key_path': tmp_key,
                       'database': {'name': 'sqlite3', 'args': {'database': spec['template_db'] + '.tmp'}}}, f)
        subprocess.run([py, '-m', 'synapse._scripts.update_synapse_database', '--database-config', tmp,
                        '--run-background-updates'], check=True, stdout=subprocess.DEVNULL)
        os.rename(spec['template_db'] + '.tmp', spec['template_db'])
        os.unlink(tmp)
        os.unlink(tmp_key)
        template_seconds = round(time.monotonic() - start, 1)
    for ident in spec['identities']:
        base = os.path.join(spec['root'], ident['id'])
        data = os.path.join(spec['data'], ident['id'])
        os.makedirs(base, exist_ok=True)
        os.chmod(base, 0o750)
        os.chown(base, 0, user.pw_gid)
        os.makedirs(os.path.join(data, 'media'), exist_ok=True)
        did = write_if_changed(os.path.join(base, 'homeserver.yaml'),
                               json.dumps(config(spec, ident, secret), indent=1, sort_keys=True) + '\n',
                               uid=user.pw_gid)
        did |= write_if_changed(os.path.join(base, 'log.yaml'), json.dumps(LOG_CONFIG, indent=1) + '\n',
                                uid=user.pw_gid)
        key = os.path.join(base, 'signing.key')
        if not os.path.exists(key):
            subprocess.run([py, '-m', 'synapse._scripts.generate_signing_key', '-o', key], check=True)
            os.chmod(key, 0o640)
            os.chown(key, 0, user.pw_gid)
            did = True
        db = os.path.join(data, 'homeserver.db')
        if not os.path.exists(db):
            shutil.copyfile(spec['template_db'], db)
            did = True
        for root, dirs, files in os.walk(data):
            for name in [root] + [os.path.join(root, x) for x in files + dirs]:
                st = os.stat(name)
                if st.st_uid != user.pw_uid:
                    os.chown(name, user.pw_uid, user.pw_gid)
        if did:
            changed.append(ident['id'])
    print(json.dumps({'changed': changed, 'template_seconds': template_seconds}))


if __name__ == '__main__':
    main(sys.argv[1])
