# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""How many PostgreSQL connections a Synapse deployment may open, against what the server allows.

Every Synapse process (the main one and each worker) keeps a pool of up to ``cp_max`` database
connections (Twisted's adbapi pool, ``database.args.cp_max`` in homeserver.yaml). PostgreSQL
refuses a connection past ``max_connections``, and keeps ``superuser_reserved_connections`` (3 by
default) of those for superusers. Besides Synapse, the collection's own tools connect as the
database owner: ``pg_dump`` during a backup, ``psql`` during a restore and ``synapse_port_db``
during a migration, one connection at a time. A deployment that can exhaust the server fails
under load, not when it is deployed: a worker's pool grows only when it is busy.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# PostgreSQL's default superuser_reserved_connections (the postgresql role does not change it).
SUPERUSER_RESERVED = 3
# One connection for whichever of the collection's tools runs (pg_dump, psql, synapse_port_db),
# and one for an operator's psql.
TOOLS = 2


def _count(value):
    """An int >= 0 from an int or a string of digits; None otherwise (bools are not counts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def connection_errors(processes, cp_max, max_connections,
                      cp_max_variable='synapse_postgres_cp_max',
                      max_connections_variable='postgresql_max_connections'):
    """Sentences saying why ``processes`` Synapse processes with pools of ``cp_max`` do not fit
    in ``max_connections``; an empty list when they fit (with SUPERUSER_RESERVED and TOOLS left).
    ``processes`` counts the main process and every worker."""
    counts = {'processes': _count(processes), cp_max_variable: _count(cp_max),
              max_connections_variable: _count(max_connections)}
    problems = []
    if counts['processes'] is None or counts['processes'] < 1:
        problems.append('the number of Synapse processes must be an integer of at least 1, got %r.' % (processes,))
    if counts[cp_max_variable] is None or counts[cp_max_variable] < 1:
        problems.append('%s must be an integer of at least 1 (connections per Synapse process), got %r.'
                        % (cp_max_variable, cp_max))
    floor = SUPERUSER_RESERVED + TOOLS + 1
    if counts[max_connections_variable] is None or counts[max_connections_variable] < floor:
        problems.append('%s must be an integer of at least %d (PostgreSQL keeps %d for superusers, the '
                        "collection's tools need %d), got %r."
                        % (max_connections_variable, floor, SUPERUSER_RESERVED, TOOLS, max_connections))
    if problems:
        return problems
    count, pool, limit = counts['processes'], counts[cp_max_variable], counts[max_connections_variable]
    needed = count * pool
    available = limit - SUPERUSER_RESERVED - TOOLS
    if needed <= available:
        return []
    fix = 'raise %s to at least %d' % (max_connections_variable, needed + SUPERUSER_RESERVED + TOOLS)
    if available // count >= 1:
        fix += ', or lower %s to at most %d' % (cp_max_variable, available // count)
    return [
        '%d Synapse processes (the main one and %d workers) open up to %d PostgreSQL connections (%s %d '
        "each), more than the %d that %s %d leaves after %d for superusers and %d for the collection's "
        'tools: %s.'
        % (count, count - 1, needed, cp_max_variable, pool, available, max_connections_variable, limit,
           SUPERUSER_RESERVED, TOOLS, fix)]
