# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Jinja2 filters over plugins/module_utils/_migrate.py: the SQLite -> PostgreSQL migration's
backup gate and its decision (playbooks/migrate_postgresql.yml). Documented in the .yml files
beside this one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.mxfed.federation.plugins.module_utils._migrate import (
    MigrationInputError,
    MigrationRefused,
    backup_verdict,
    counts_match,
    plan,
)


def synapse_migration_backup(archives, server_name, max_age_hours=24, skip=False):
    try:
        return backup_verdict(list(archives), server_name, datetime.datetime.now(datetime.timezone.utc),
                              max_age_hours, skip)
    except (MigrationInputError, MigrationRefused) as exc:
        raise AnsibleFilterError(str(exc))


def synapse_migration_plan(facts, sqlite_path='homeserver.db', target='the PostgreSQL database'):
    if not isinstance(facts, dict):
        raise AnsibleFilterError('synapse_migration_plan: the facts must be a mapping (got %r)' % (facts,))
    try:
        return plan(facts.get('engine'), facts.get('sqlite_exists'), facts.get('target_tables'),
                    facts.get('port_table'), facts.get('marker'), sqlite_path, target)
    except (MigrationInputError, MigrationRefused) as exc:
        raise AnsibleFilterError(str(exc))


def synapse_migration_counts_match(sqlite_events, postgres_events):
    try:
        return counts_match(sqlite_events, postgres_events)
    except (MigrationInputError, MigrationRefused) as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {
            'synapse_migration_backup': synapse_migration_backup,
            'synapse_migration_plan': synapse_migration_plan,
            'synapse_migration_counts_match': synapse_migration_counts_match,
        }
