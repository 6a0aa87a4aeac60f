# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""What one check may spend, whatever the remote does: time on the wall clock, requests, and
how much of what DNS publishes it looks at.

One check of a server name runs three steps one after another, each with `timeout` seconds of
wall-clock time at most (the work inside a step runs concurrently):

1. well-known: the server name's A/AAAA, GET /.well-known/matrix/server with its redirects,
   every address of the name asked on its own; the SRV lookups of steps 4/5 run beside it;
2. dns: SRV of the delegated name (with the A/AAAA of that name beside it, for step 3.5 and
   the port-8448 fallback after an SRV failure) and the A/AAAA of the SRV targets;
3. addresses: every address checked at once: connect, TLS, keys, version, proxy probes.

So one check ends within CHECK_BOUND = 3 x timeout + 1 s (the second covers the work between
the steps: parsing, certificates, the verdict). Client discovery runs beside them, within the
same check deadline. A step that runs out is reported (`step_deadline`) with its name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from ansible_collections.mxfed.federation.plugins.module_utils._errors import TransportError

STEPS = 3  # well-known, dns, addresses: see above
SLACK_SECONDS = 1.0
# The caps on what a remote can make one check do. A real setup has one to three SRV targets
# with one to four addresses each; more than this is cut, and said so in the report.
MAX_SRV_TARGETS = 5  # distinct SRV targets checked (records de-duplicated first)
MAX_ADDRESSES = 4  # addresses per host checked, both families kept when both exist
MAX_REQUESTS = 100  # HTTP requests of one check (all steps; a healthy check needs about 15)
STEP_LABELS = {
    'well-known': 'the well-known step (A/AAAA of the server name, GET /.well-known/matrix/server and its redirects)',
    'dns': 'the DNS step (SRV records and the A/AAAA of their targets)',
    'addresses': 'the per-address step (connect, TLS, keys, version and proxy checks)',
    'client': 'client discovery (/.well-known/matrix/client and /_matrix/client/versions)',
}


def check_bound(timeout):
    """Seconds one check may take at most."""
    return STEPS * float(timeout) + SLACK_SECONDS


class RequestCapError(TransportError):
    """The check used its MAX_REQUESTS requests; this one was not sent."""

    _kind = 'capped'


class Budget(object):
    """The deadlines and the request count of one check (shared by its threads).

    step() opens a step: its deadline is `timeout` from now, never past the check's."""

    def __init__(self, timeout, max_requests=MAX_REQUESTS, now=None):
        self.timeout = float(timeout)
        self.start = time.monotonic() if now is None else now
        self.deadline = self.start + check_bound(timeout)
        self.max_requests = max_requests
        self.requests = 0
        self.refused = 0
        self.refused_optional = 0  # optional probes not sent (no finding: each is recorded as skipped)
        self.ran_out = []  # names of the steps that reached their deadline, in order
        self._lock = threading.Lock()

    def step(self):
        """The deadline (a time.monotonic() value) of a step starting now."""
        return min(time.monotonic() + self.timeout, self.deadline)

    def take_request(self, what, optional=False):
        """Count one request; raises RequestCapError when the check has used them all. An optional
        request (version, route and proxy probes: nothing the verdict reads) is refused once half
        of them are used, so that on a name with many addresses they never starve a key fetch."""
        with self._lock:
            if optional and self.requests >= self.max_requests // 2:
                self.refused_optional += 1
                raise RequestCapError('%s not sent: the check already made %d requests, and keeps the rest for what '
                                      'decides the verdict' % (what, self.requests))
            if self.requests >= self.max_requests:
                self.refused += 1
                raise RequestCapError('%s not sent: the check already made %d requests' % (what, self.max_requests))
            self.requests += 1

    def note_deadline(self, name, deadline):
        """Record that step `name` ended at (or after) its deadline."""
        if time.monotonic() >= deadline - 0.001:
            with self._lock:
                if name not in self.ran_out:
                    self.ran_out.append(name)
            return True
        return False


def take_request(budget, what, optional=False):
    """budget.take_request(what, optional), for callers that may run without a budget (tests, tools)."""
    if budget is not None:
        budget.take_request(what, optional=optional)


def cap_addresses(addresses, limit=MAX_ADDRESSES):
    """(kept, dropped) of [(ip, family)], in their order: at most `limit`, and when both families
    are published, up to half of the limit from each before the rest is filled in order (a
    cap must not hide that IPv6, or IPv4, is broken)."""
    if len(addresses) <= limit:
        return list(addresses), []
    per_family = (limit + 1) // 2
    chosen = set()
    for family in (4, 6):
        chosen.update([index for index, item in enumerate(addresses) if item[1] == family][:per_family])
    for index in range(len(addresses)):
        if len(chosen) >= limit:
            break
        chosen.add(index)
    kept = [item for index, item in enumerate(addresses) if index in chosen]
    dropped = [item for index, item in enumerate(addresses) if index not in chosen]
    return kept, dropped
