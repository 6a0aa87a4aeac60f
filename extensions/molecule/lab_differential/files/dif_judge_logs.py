#!/usr/bin/env python3
"""The judge's own log lines that explain each setup's result (test harness, stdlib only).

Usage: dif_judge_logs.py UNIT SINCE_EPOCH NAMES_JSON
NAMES_JSON maps setup id -> server name. Reads `journalctl -u UNIT` since the probe started and
keeps, per setup, the lines that mention its server name (not a longer name ending in it) and
say what happened on the way: connections, well-known, SRV, TLS, failures.
Prints {id: [lines]} (at most 12 lines per setup, each cut to 400 characters).
"""
import json
import re
import subprocess
import sys

INTERESTING = re.compile(
    r'Failed to connect|Error fetching|Error parsing|Response from \.well-known|Request failed|'
    r'Error sending request|Outgoing request failed|getProfile failed|Blocking|SynapseError|'
    r'Fetching https|Got .* SRV|[Uu]nable to|failed|refused|timed out|Timed out|certificate|'
    r'server_name|Invalid|KeyLookupError|Processed request', re.I)


def main(unit, since, names_path):
    names = json.load(open(names_path))
    out = subprocess.run(['journalctl', '-u', unit, '--since', '@%d' % int(float(since)), '--no-pager',
                          '-o', 'cat'], capture_output=True, text=True).stdout.splitlines()
    patterns = {sid: re.compile(r'(?<![a-z0-9-])' + '(?::|%3A)'.join(map(re.escape, name.split(':'))))
                for sid, name in names.items()}
    result = {sid: [] for sid in names}
    for line in out:
        if not INTERESTING.search(line):
            continue
        for sid, pat in patterns.items():
            if pat.search(line) and len(result[sid]) < 12:
                result[sid].append(line[:400])
    print(json.dumps(result))


if __name__ == '__main__':
    main(*sys.argv[1:4])
