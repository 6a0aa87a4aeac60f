# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Where a federated message's time goes, from two Synapse journals (benchmark helper).

Usage: python3 synapse_stages.py A_JOURNAL B_JOURNAL   (journalctl -u synapse -o short-iso-precise)

For each message a user on A sent (a client PUT .../send/m.room.message/...) it pairs, in time
order, A's outgoing federation transaction, B's incoming /send and the /sync on B that returned
next, and prints the median and 90th percentile of each stage, both ways, as JSON:
  put              the sender's client PUT inside Synapse (create, persist)
  put_to_fedout    PUT answered -> outgoing transaction started
  fedout_to_fedin  outgoing transaction started -> the receiver started handling it (the network,
                   both Caddies, TLS)
  fedin            the receiver's /send (it stages the PDU and answers)
  fedin_to_sync    /send answered -> the receiving client's /sync returned (the PDU processed
                   and persisted, the sync woken and built)
Timestamps are Synapse's log lines' (end of a request; start = end - its duration), so this
only splits what the probe measures from outside; it adds no load.
"""

import datetime
import json
import re
import statistics
import sys

LINE = re.compile(r'^(\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:?\d\d) ')
ACCESS = re.compile(r'Processed request: ([\d.]+)sec.*"(PUT|GET) (\S+)')
OUTGOING = re.compile(r'Completed request: .* in ([\d.]+) secs.*PUT matrix-federation://\S+/_matrix/federation/v1/send/')


def parse(lines):
    """[(start, end, kind)] of the requests that matter, from journal lines."""
    events = []
    for line in lines:
        match = LINE.match(line)
        if not match:
            continue
        stamp = match.group(1)
        if re.search(r'[+-]\d{4}$', stamp):
            stamp = stamp[:-2] + ':' + stamp[-2:]
        end = datetime.datetime.fromisoformat(stamp).timestamp()
        access = ACCESS.search(line)
        if access:
            duration, path = float(access.group(1)), access.group(3)
            if '/send/m.room.message/' in path:
                kind = 'client_send'
            elif '/_matrix/federation/v1/send/' in path:
                kind = 'fed_in'
            elif '/_matrix/client/v3/sync' in path:
                kind = 'sync'
            else:
                continue
            events.append((end - duration, end, kind))
            continue
        outgoing = OUTGOING.search(line)
        if outgoing:
            events.append((end - float(outgoing.group(1)), end, 'fed_out'))
    return sorted(events)


def first(events, kind, after, key=1):
    for event in events:
        if event[2] == kind and event[key] >= after:
            return event
    return None


def stages(sender, receiver):
    rows = []
    for start, end, kind in sender:
        if kind != 'client_send':
            continue
        out = first(sender, 'fed_out', start - 0.005, key=0)
        incoming = first(receiver, 'fed_in', start)
        if not out or not incoming or incoming[0] - start > 1.0:
            continue
        synced = first(receiver, 'sync', incoming[1])
        if not synced:
            continue
        rows.append({
            'put': end - start,
            'put_to_fedout': out[0] - end,
            'fedout_to_fedin': incoming[0] - out[0],
            'fedin': incoming[1] - incoming[0],
            'fedin_to_sync': synced[1] - incoming[1],
            'total': synced[1] - start,
        })
    summary = {'messages': len(rows)}
    for name in ('put', 'put_to_fedout', 'fedout_to_fedin', 'fedin', 'fedin_to_sync', 'total'):
        values = sorted(r[name] * 1000 for r in rows)
        if values:
            summary[name] = {'p50_ms': round(statistics.median(values), 1),
                             'p90_ms': round(values[min(len(values) - 1, int(len(values) * 0.9))], 1)}
    return summary


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding='utf-8') as handle:
        a = parse(handle)
    with open(argv[2], encoding='utf-8') as handle:
        b = parse(handle)
    print(json.dumps({'a_to_b': stages(a, b), 'b_to_a': stages(b, a)}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
