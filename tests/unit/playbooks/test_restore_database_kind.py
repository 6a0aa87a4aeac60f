# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""playbooks/restore.yml refuses an archive whose database kind is not the host's.

A PostgreSQL dump is never restored onto a host configured for SQLite (nor the reverse): the
restore stops before it changes anything and names the variable to look at. Runs the real
playbook in check mode against localhost, as test_backup_restore_refusals.py does.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from _playbook_check import run_restore_check

KEY = b"ed25519 a_AAAA c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2Vj\n"

CASES = {
    # a pg_dump archive onto a host on SQLite (synapse_database's default)
    "postgresql_onto_sqlite": ({"kind": "postgresql", "sqlite_files": []}, {}, "db/database.sql",
                               ["it holds a postgresql database", "is configured for sqlite (synapse_database)"]),
    # an SQLite archive onto a host on PostgreSQL
    "sqlite_onto_postgresql": ({"kind": "sqlite", "sqlite_files": ["homeserver.db"]}, {"synapse_database": "postgresql"},
                               "db/homeserver.db",
                               ["it holds a sqlite database", "is configured for postgresql (synapse_database)"]),
}


def _host(tmp: Path, case_id: str, database: dict, host_vars: dict, db_member: str) -> dict:
    root = tmp / case_id
    config = root / "etc-synapse"
    config.mkdir(parents=True)
    archive = root / "a.test_synapse_20261201T203005Z.tar.gz"
    manifest = {
        "format": 1, "server_name": "a.test", "implementation": "synapse", "created": "20261201T203005Z",
        "hostname": "hs1", "collection_version": "", "database": database,
        "files": ["config", "data", "db", "manifest.json"],
        "key": {"key_id": "ed25519:a_AAAA", "sha256": hashlib.sha256(KEY).hexdigest()},
    }
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in {"manifest.json": json.dumps(manifest).encode(), "config/a.test.signing.key": KEY,
                           db_member: b""}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dict({
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False,
        "homeserver_server_name": "a.test", "synapse_config_dir": str(config),
        "synapse_data_dir": str(root / "var-lib-synapse"), "backup_host_dir": str(root / "work"),
        "archive": str(archive),
    }, **host_vars)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("restore_kind")
    hosts = {case_id: _host(tmp, case_id, *spec[:3]) for case_id, spec in CASES.items()}
    stats, messages, _tasks = run_restore_check(tmp, hosts)
    return tmp, stats, messages


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_restore_refuses_another_database_kind(run, case_id):
    tmp, stats, messages = run
    text = "\n".join(messages.get(case_id, []))
    assert stats[case_id]["failures"] == 1, text[-3000:]
    assert "Refusing to restore" in text, text[-3000:]
    for fragment in CASES[case_id][3]:
        assert fragment in text, (fragment, text[-3000:])
    assert not (tmp / case_id / "work").exists()
    assert not (tmp / case_id / "var-lib-synapse").exists()
