#!/usr/bin/env python3
"""The differential lab's report (test harness, stdlib only), run on the controller.

  dif_report.py judges DIR    DIR holds plan.json (the setups), judge-synapse.json,
                              judge-dendrite.json (dif_probe.py outputs, each with a "logs" map
                              from dif_judge_logs.py) and versions.json. Writes DIR/judges.json:
                              per setup, what each judge did. Exit 1 when a judge did not do
                              what setups.yml records (`expect`), listing those setups.
  dif_report.py compare DIR   also reads DIR/checks.json (setup id -> delegation_check result).
                              Writes DIR/table.md and DIR/table.json, prints the table; exit 1
                              on any disagreement between the check's reachable_from and a judge,
                              or when the check does not return reachable_from at all.
"""
import datetime
import json
import os
import sys

JUDGES = ('synapse', 'dendrite')


def load(path):
    with open(path) as f:
        return json.load(f)


def did(probe):
    """What a judge did for one setup, from its probe results."""
    p, k, again = probe.get('profile', {}), probe.get('keys', {}), probe.get('profile_again', {})
    return {
        'reached_again': bool(again.get('reached')),
        'again_status': again.get('status'),
        'again_seconds': again.get('seconds'),
        'reached': bool(p.get('reached')),
        'profile_status': p.get('status'),
        'profile_errcode': p.get('errcode'),
        'profile_error': (p.get('body') or {}).get('error') if isinstance(p.get('body'), dict) else p.get('error'),
        'profile_seconds': p.get('seconds'),
        'keys_verified': bool(k.get('verified')),
        'keys_status': k.get('status'),
        'keys_seconds': k.get('seconds'),
    }


def judges(directory):
    plan = load(os.path.join(directory, 'plan.json'))
    versions = load(os.path.join(directory, 'versions.json')) if os.path.exists(
        os.path.join(directory, 'versions.json')) else {}
    raw = dict((j, load(os.path.join(directory, 'judge-%s.json' % j))) for j in JUDGES)
    out = {'generated': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
           'versions': versions,
           'method': ('profile query GET /_matrix/client/v3/profile/@probe:<setup> on the judge (reached = 200 with '
                      'the setup identity\'s display name); then a notary key query POST /_matrix/key/v2/query '
                      'with the identity\'s key ID (keys_verified = the judge returned verified keys for the name); then the '
                      'profile query again (reached_again: a second contact, with what the judge cached)'),
           'probe_wall_seconds': dict((j, round(raw[j]['finished'] - raw[j]['started'], 1)) for j in JUDGES),
           'setups': []}
    surprises = []
    for s in plan:
        row = {'id': s['id'], 'desc': s['desc'], 'server_name': s['server_name'], 'expect': s['expect']}
        for j in JUDGES:
            row[j] = did(raw[j]['results'].get(s['id'], {}))
            row[j]['log'] = raw[j].get('logs', {}).get(s['id'], [])
            if row[j]['reached'] != bool(s['expect'][j]):
                surprises.append('%s: %s %s, setups.yml expects %s' % (
                    s['id'], j, 'reached it' if row[j]['reached'] else 'did not reach it', s['expect'][j]))
        out['setups'].append(row)
    out['surprises'] = surprises
    with open(os.path.join(directory, 'judges.json'), 'w') as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print('%d setups; judges differ from setups.yml on %d: %s' % (len(plan), len(surprises), '; '.join(surprises)))
    return 1 if surprises else 0


def yn(value):
    return 'reached' if value else 'FAILED'


def compare(directory):
    data = load(os.path.join(directory, 'judges.json'))
    checks = load(os.path.join(directory, 'checks.json'))
    rows, disagreements, missing = [], [], []
    for s in data['setups']:
        c = checks.get(s['id'], {})
        reach = c.get('reachable_from')
        codes = sorted(set(f.get('code', '?') for f in (c.get('error_findings') or []) + (c.get('warning_findings') or [])
                           if isinstance(f, dict)))
        row = {'id': s['id'], 'desc': s['desc'], 'step': c.get('step'), 'federation_ok': c.get('federation_ok'),
               'codes': codes, 'check_msg': None if 'federation_ok' in c else c.get('msg')}
        for j in JUDGES:
            row['%s_did' % j] = s[j]['reached']
            said = reach.get(j) if isinstance(reach, dict) else None
            row['%s_check' % j] = said
            reason = ((c.get('reachability') or {}).get(j) or {}).get('reason') if isinstance(
                c.get('reachability'), dict) else None
            row['%s_reason' % j] = reason
            if said is None:
                missing.append('%s/%s' % (s['id'], j))
            elif bool(said) != s[j]['reached']:
                disagreements.append('%s: %s %s, the check says %s (%s)' % (
                    s['id'], j, yn(s[j]['reached']), 'reachable' if said else 'unreachable', reason or 'no reason'))
        rows.append(row)
    result = {'generated': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
              'versions': data.get('versions', {}), 'rows': rows, 'disagreements': disagreements,
              'missing_reachable_from': missing}
    with open(os.path.join(directory, 'table.json'), 'w') as f:
        json.dump(result, f, indent=1, sort_keys=True)
    md = markdown(result)
    with open(os.path.join(directory, 'table.md'), 'w') as f:
        f.write(md)
    print(md)
    if missing:
        print('The check returned no reachable_from for %d setup/implementation pairs (first: %s): this '
              'delegation_check predates the per-implementation verdict, so nothing can be compared yet.'
              % (len(missing), ', '.join(missing[:3])))
    if disagreements:
        print('%d disagreements:\n  %s' % (len(disagreements), '\n  '.join(disagreements)))
    return 1 if missing or disagreements else 0


def cell(value):
    return 'n/a' if value is None else ('yes' if value else 'no')


def markdown(result):
    lines = ['| setup | description | Synapse did | check said | Dendrite did | check said | check\'s codes |',
             '|---|---|---|---|---|---|---|']
    for r in result['rows']:
        mark = lambda j: '' if r['%s_check' % j] is None or bool(r['%s_check' % j]) == r['%s_did' % j] else ' **≠**'
        lines.append('| %s | %s | %s | %s%s | %s | %s%s | %s |' % (
            r['id'], r['desc'].replace('|', '\\|'), yn(r['synapse_did']), cell(r['synapse_check']), mark('synapse'),
            yn(r['dendrite_did']), cell(r['dendrite_check']), mark('dendrite'),
            ', '.join(r['codes']) or (r['check_msg'] or '')[:80].replace('|', '\\|')))
    lines.append('')
    lines.append('%d setups, %d disagreements, %d pairs without reachable_from.' % (
        len(result['rows']), len(result['disagreements']), len(result['missing_reachable_from'])))
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.exit({'judges': judges, 'compare': compare}[sys.argv[1]](sys.argv[2]))
