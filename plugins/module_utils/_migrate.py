# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""Moving a Synapse homeserver from SQLite to PostgreSQL (playbooks/migrate_postgresql.yml):
whether a fresh enough backup exists, and what to do given what the host holds.

The decision is taken from facts read on the host: which database homeserver.yaml names, whether
the SQLite file is there, how many tables the PostgreSQL database holds, whether Synapse's port
script left its bookkeeping table (port_from_sqlite3) there, and whether our marker says an
earlier run finished. A database this migration did not fill is never written to.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.mxfed.federation.plugins.module_utils._backup import parse_archive_name

# What Synapse calls its database engines in homeserver.yaml (database.name).
ENGINES = ('sqlite3', 'psycopg2')
# The table synapse_port_db creates in the target to track what it copied.
PORT_TABLE = 'port_from_sqlite3'

ACTION_PORT = 'port'      # empty target: port the SQLite file into it
ACTION_RESUME = 'resume'  # the port script filled it earlier and the switch did not happen: port again
ACTION_DONE = 'done'      # migrated by an earlier run: nothing to do
ACTION_NONE = 'none'      # already on PostgreSQL, not by this migration: nothing to do


class MigrationInputError(ValueError):
    """A fact or setting that cannot be what it claims; the message names it."""


class MigrationRefused(Exception):
    """The host is in a state where migrating could lose data; the message says why and what to do."""


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def backup_verdict(archives, server_name, now, max_age_hours, skip=False):
    """Whether the migration may go on, as far as backups go.

    archives: base names of files in the backup directory (others are ignored);
    server_name: the homeserver's; now: an aware datetime; max_age_hours: how old the newest
    archive of this server may be; skip: the user said to go on without one.
    Returns {'archive': name or '', 'age_hours': float or None, 'message': str}; raises
    MigrationRefused without a recent archive, unless skip.
    """
    if not isinstance(archives, (list, tuple)) or not all(isinstance(a, str) for a in archives):
        raise MigrationInputError('migrate_backup archives must be a list of file names (got %r)' % (archives,))
    if not isinstance(server_name, str) or not server_name:
        raise MigrationInputError('the server name must be a non-empty string (got %r)' % (server_name,))
    if not isinstance(now, datetime.datetime) or now.tzinfo is None:
        raise MigrationInputError('now must be an aware datetime (got %r)' % (now,))
    if isinstance(max_age_hours, bool) or not isinstance(max_age_hours, (int, float)) or max_age_hours <= 0:
        raise MigrationInputError('migrate_backup_max_age_hours must be a positive number of hours (got %r)'
                                  % (max_age_hours,))
    if not isinstance(skip, bool):
        raise MigrationInputError('migrate_skip_backup must be true or false (got %r)' % (skip,))
    ours = []
    for name in archives:
        parsed = parse_archive_name(name)
        if parsed and parsed['server_name'] == server_name and parsed['implementation'] == 'synapse':
            ours.append((parsed['created'], name))
    if ours:
        created, name = max(ours)
        age = (now - created).total_seconds() / 3600.0
        if -0.1 <= age <= max_age_hours:
            return {'archive': name, 'age_hours': round(age, 2),
                    'message': 'backup %s, %.1f h old' % (name, max(age, 0.0))}
        found = 'the newest, %s, is %.1f h old (more than migrate_backup_max_age_hours %s)' % (name, age, max_age_hours)
        if age < -0.1:
            found = 'the newest, %s, is dated %.1f h in the future' % (name, -age)
    else:
        found = 'there is no archive of %s (Synapse) there' % server_name
    if skip:
        return {'archive': '', 'age_hours': None,
                'message': 'no recent backup (%s); going on because migrate_skip_backup is true' % found}
    raise MigrationRefused(
        'Refusing to migrate %s without a recent backup: %s. Back up first '
        '(ansible-playbook playbooks/backup.yml -e target=<host> -e backup_dir=<dir>) and pass the same '
        'migrate_backup_dir, or set migrate_skip_backup=true to go on without one.' % (server_name, found))


def plan(config_engine, sqlite_exists, target_tables, port_table, marker, sqlite_path='homeserver.db',
         target='the PostgreSQL database'):
    """What to do with the host as it is. Returns {'action': ACTION_*, 'message': str}; raises
    MigrationRefused when going on could lose or overwrite data, MigrationInputError on bad facts.

    config_engine: database.name in homeserver.yaml now; sqlite_exists: the SQLite file is there;
    target_tables: tables in the target's public schema (0 when the database does not exist yet);
    port_table: PORT_TABLE is among them; marker: an earlier run of this migration finished.
    """
    if config_engine not in ENGINES:
        raise MigrationInputError('homeserver.yaml database.name must be one of %s (got %r)'
                                  % (', '.join(ENGINES), config_engine))
    for label, value in (('sqlite_exists', sqlite_exists), ('port_table', port_table), ('marker', marker)):
        if not isinstance(value, bool):
            raise MigrationInputError('%s must be true or false (got %r)' % (label, value))
    if not _is_count(target_tables):
        raise MigrationInputError('target_tables must be a count of tables, 0 or more (got %r)' % (target_tables,))
    if port_table and target_tables == 0:
        raise MigrationInputError('port_table cannot be true when the target has no tables')

    if config_engine == 'psycopg2':
        if marker:
            return {'action': ACTION_DONE,
                    'message': 'already migrated: homeserver.yaml uses PostgreSQL and an earlier run finished '
                               'the port; nothing to do (%s kept)' % sqlite_path}
        return {'action': ACTION_NONE,
                'message': 'homeserver.yaml uses PostgreSQL already and this migration did not do it; '
                           'nothing to port'}
    if not sqlite_exists:
        raise MigrationRefused('Refusing to migrate: homeserver.yaml uses SQLite but %s does not exist, so there '
                               'is nothing to port (is synapse_data_dir right?).' % sqlite_path)
    if target_tables == 0:
        return {'action': ACTION_PORT,
                'message': 'port %s into %s (empty), then switch homeserver.yaml to PostgreSQL' % (sqlite_path, target)}
    if port_table:
        return {'action': ACTION_RESUME,
                'message': '%s was filled by synapse_port_db before but homeserver.yaml still uses SQLite: '
                           'port again (the script goes on where it stopped), then switch' % target}
    raise MigrationRefused(
        'Refusing to migrate: %s already holds %d tables and synapse_port_db did not fill it (no %s table); '
        'this migration never writes to a database it did not fill. Give it an empty database '
        '(postgresql_db_name) or drop that one yourself.' % (target, target_tables, PORT_TABLE))


def counts_match(sqlite_events, postgres_events):
    """After the port: the events table holds as many rows in PostgreSQL as in SQLite."""
    for label, value in (('SQLite events', sqlite_events), ('PostgreSQL events', postgres_events)):
        if not _is_count(value):
            raise MigrationInputError('%s must be a count, 0 or more (got %r)' % (label, value))
    if sqlite_events != postgres_events:
        raise MigrationRefused('The port is incomplete: %d events in SQLite, %d in PostgreSQL; homeserver.yaml '
                               'left on SQLite (run the migration again: the port goes on where it stopped).'
                               % (sqlite_events, postgres_events))
    return True
