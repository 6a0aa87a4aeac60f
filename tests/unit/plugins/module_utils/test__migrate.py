# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/_migrate.py: the backup gate and the decision of the SQLite ->
PostgreSQL migration, and plugins/filter/synapse_migration.py over them."""

from __future__ import annotations

import datetime

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mxfed.federation.plugins.filter import synapse_migration
from ansible_collections.mxfed.federation.plugins.module_utils import _migrate

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 2, 4, 0, 0, tzinfo=UTC)
ONE_HOUR = "alpha.test_synapse_20261202T030000Z.tar.gz.enc"
TWO_DAYS = "alpha.test_synapse_20261130T040000Z.tar.gz"


@pytest.mark.parametrize("archives, skip, archive, age", [
    ([ONE_HOUR], False, ONE_HOUR, 1.0),
    # the newest one counts; other servers, implementations and files are ignored
    ([TWO_DAYS, ONE_HOUR, "beta.test_synapse_20261202T035900Z.tar.gz", "alpha.test_dendrite_20261202T035900Z.tar.gz",
      "notes.txt"], False, ONE_HOUR, 1.0),
    ([], True, "", None),
    ([TWO_DAYS], True, "", None),
])
def test_backup_verdict_goes_on(archives, skip, archive, age):
    verdict = _migrate.backup_verdict(archives, "alpha.test", NOW, 24, skip)
    assert verdict["archive"] == archive
    assert verdict["age_hours"] == age
    if skip:
        assert "migrate_skip_backup is true" in verdict["message"]


@pytest.mark.parametrize("archives, max_age, message", [
    ([], 24, "there is no archive of alpha.test (Synapse) there"),
    (["beta.test_synapse_20261202T035900Z.tar.gz"], 24, "there is no archive of alpha.test (Synapse) there"),
    ([TWO_DAYS], 24, "is 48.0 h old (more than migrate_backup_max_age_hours 24)"),
    ([ONE_HOUR], 0.5, "is 1.0 h old (more than migrate_backup_max_age_hours 0.5)"),
    (["alpha.test_synapse_20261202T090000Z.tar.gz"], 24, "dated 5.0 h in the future"),
])
def test_backup_verdict_refuses(archives, max_age, message):
    with pytest.raises(_migrate.MigrationRefused) as err:
        _migrate.backup_verdict(archives, "alpha.test", NOW, max_age, False)
    assert message in str(err.value)
    assert "Refusing to migrate alpha.test without a recent backup" in str(err.value)
    assert "migrate_skip_backup=true" in str(err.value)


@pytest.mark.parametrize("args, message", [
    (("x.tar.gz", "alpha.test", NOW, 24, False), "archives must be a list of file names"),
    (([1], "alpha.test", NOW, 24, False), "archives must be a list of file names"),
    (([], "", NOW, 24, False), "the server name must be a non-empty string"),
    (([], "alpha.test", NOW.replace(tzinfo=None), 24, False), "now must be an aware datetime"),
    (([], "alpha.test", NOW, 0, False), "migrate_backup_max_age_hours must be a positive number"),
    (([], "alpha.test", NOW, "24", False), "migrate_backup_max_age_hours must be a positive number"),
    (([], "alpha.test", NOW, True, False), "migrate_backup_max_age_hours must be a positive number"),
    (([], "alpha.test", NOW, 24, "yes"), "migrate_skip_backup must be true or false"),
])
def test_backup_verdict_bad_input(args, message):
    with pytest.raises(_migrate.MigrationInputError) as err:
        _migrate.backup_verdict(*args)
    assert message in str(err.value)


@pytest.mark.parametrize("engine, sqlite, tables, port_table, marker, action, message", [
    ("sqlite3", True, 0, False, False, "port", "port /d/homeserver.db into db synapse (empty)"),
    # a marker without a switch (interrupted after the port): the port goes on, then the switch
    ("sqlite3", True, 0, False, True, "port", "(empty)"),
    ("sqlite3", True, 120, True, False, "resume", "the script goes on where it stopped"),
    ("sqlite3", True, 120, True, True, "resume", "still uses SQLite"),
    ("psycopg2", True, 120, True, True, "done", "already migrated"),
    ("psycopg2", False, 120, True, True, "done", "/d/homeserver.db kept"),
    ("psycopg2", True, 120, True, False, "none", "this migration did not do it"),
    ("psycopg2", False, 0, False, False, "none", "nothing to port"),
])
def test_plan(engine, sqlite, tables, port_table, marker, action, message):
    result = _migrate.plan(engine, sqlite, tables, port_table, marker, "/d/homeserver.db", "db synapse")
    assert result["action"] == action
    assert message in result["message"]


@pytest.mark.parametrize("engine, sqlite, tables, port_table, marker, message", [
    ("sqlite3", False, 0, False, False, "homeserver.yaml uses SQLite but /d/homeserver.db does not exist"),
    ("sqlite3", True, 3, False, False,
     "db synapse already holds 3 tables and synapse_port_db did not fill it (no port_from_sqlite3 table)"),
    ("sqlite3", True, 3, False, True, "never writes to a database it did not fill"),
])
def test_plan_refuses(engine, sqlite, tables, port_table, marker, message):
    with pytest.raises(_migrate.MigrationRefused) as err:
        _migrate.plan(engine, sqlite, tables, port_table, marker, "/d/homeserver.db", "db synapse")
    assert message in str(err.value)


@pytest.mark.parametrize("args, message", [
    (("postgres", True, 0, False, False), "database.name must be one of sqlite3, psycopg2 (got 'postgres')"),
    ((None, True, 0, False, False), "database.name must be one of sqlite3, psycopg2 (got None)"),
    (("sqlite3", "yes", 0, False, False), "sqlite_exists must be true or false"),
    (("sqlite3", True, 0, 1, False), "port_table must be true or false"),
    (("sqlite3", True, 0, False, None), "marker must be true or false"),
    (("sqlite3", True, -1, False, False), "target_tables must be a count"),
    (("sqlite3", True, "3", False, False), "target_tables must be a count"),
    (("sqlite3", True, True, False, False), "target_tables must be a count"),
    (("sqlite3", True, 0, True, False), "port_table cannot be true when the target has no tables"),
])
def test_plan_bad_input(args, message):
    with pytest.raises(_migrate.MigrationInputError) as err:
        _migrate.plan(*args)
    assert message in str(err.value)


def test_counts_match():
    assert _migrate.counts_match(42, 42) is True
    assert _migrate.counts_match(0, 0) is True
    with pytest.raises(_migrate.MigrationRefused) as err:
        _migrate.counts_match(42, 40)
    assert "42 events in SQLite, 40 in PostgreSQL" in str(err.value)
    with pytest.raises(_migrate.MigrationInputError) as err:
        _migrate.counts_match("42", 42)
    assert "SQLite events must be a count" in str(err.value)
    with pytest.raises(_migrate.MigrationInputError) as err:
        _migrate.counts_match(42, None)
    assert "PostgreSQL events must be a count" in str(err.value)


def test_filters():
    filters = synapse_migration.FilterModule().filters()
    facts = {"engine": "sqlite3", "sqlite_exists": True, "target_tables": 0, "port_table": False, "marker": False}
    assert filters["synapse_migration_plan"](facts)["action"] == "port"
    with pytest.raises(AnsibleFilterError, match="does not exist"):
        filters["synapse_migration_plan"](dict(facts, sqlite_exists=False), "/d/homeserver.db")
    with pytest.raises(AnsibleFilterError, match="the facts must be a mapping"):
        filters["synapse_migration_plan"]([])
    with pytest.raises(AnsibleFilterError, match="Refusing to migrate alpha.test without a recent backup"):
        filters["synapse_migration_backup"]([], "alpha.test")
    assert filters["synapse_migration_backup"]([], "alpha.test", 24, True)["archive"] == ""
    assert filters["synapse_migration_counts_match"](5, 5) is True
    with pytest.raises(AnsibleFilterError, match="5 events in SQLite, 4 in PostgreSQL"):
        filters["synapse_migration_counts_match"](5, 4)
