# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""playbooks/restore.yml refuses, before it changes anything, what it must not restore.

Runs the real playbook with ansible-playbook against localhost (connection local, --check, no
become) with archives made here the way the backup role packs them (manifest.json plus the
config/ and db/ members), and a "host" whose Synapse config directory is a temporary directory.
Check mode and the refusals' place before any change keep the machine untouched; the test also
asserts the temporary key file is unchanged.
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

BACKUP_KEY = b"ed25519 a_AAAA c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2Vj\n"
OTHER_KEY = b"ed25519 a_BBBB b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyb3Ro\n"


def _archive(path: Path, manifest: dict | None, key: bytes = BACKUP_KEY) -> None:
    with tarfile.open(path, "w:gz") as tar:
        members = {"config/a.test.signing.key": key, "db/homeserver.db": b""}
        if manifest is not None:
            members["manifest.json"] = json.dumps(manifest).encode()
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _manifest(**changes) -> dict:
    manifest = {
        "format": 1, "server_name": "a.test", "implementation": "synapse", "created": "20261201T203005Z",
        "hostname": "hs1", "collection_version": "", "database": {"kind": "sqlite", "sqlite_files": ["homeserver.db"]},
        "files": ["config", "data", "db", "manifest.json"],
        "key": {"key_id": "ed25519:a_AAAA", "sha256": hashlib.sha256(BACKUP_KEY).hexdigest()},
    }
    manifest.update(changes)
    return manifest


def _host(tmp: Path, case_id: str, manifest, host_key, force):
    """One inventory host per case: its own archive, its own Synapse directories."""
    root = tmp / case_id
    config = root / "etc-synapse"
    config.mkdir(parents=True)
    if host_key is not None:
        (config / "a.test.signing.key").write_bytes(host_key)
    archive = root / "a.test_synapse_20261201T203005Z.tar.gz"
    _archive(archive, manifest)
    return {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False,
        "homeserver_server_name": "a.test", "synapse_config_dir": str(config),
        "synapse_data_dir": str(root / "var-lib-synapse"), "backup_host_dir": str(root / "work"),
        "archive": str(archive), "restore_force_key": force,
    }


SHA_BACKUP = hashlib.sha256(BACKUP_KEY).hexdigest()
SHA_OTHER = hashlib.sha256(OTHER_KEY).hexdigest()


CASES = {
    # a different key on the host: refused, naming both
    "other_key": (_manifest(), OTHER_KEY, False, False,
                  ["Refusing to restore: other_key already holds a different signing key.",
                   "On the host: ed25519:a_BBBB (sha256 %s)" % SHA_OTHER,
                   "In the backup: ed25519:a_AAAA (sha256 %s)" % SHA_BACKUP, "-e restore_force_key=true"]),
    # told to replace it: goes on (check mode: would restore)
    "other_key_forced": (_manifest(), OTHER_KEY, True, True, ["would be restored"]),
    # the same key: goes on
    "same_key": (_manifest(), BACKUP_KEY, False, True, ["would be restored"]),
    # a new host: goes on
    "new_host": (_manifest(), None, False, True, ["would be restored"]),
    # another server's backup
    "other_server": (_manifest(server_name="b.test"), None, False, False,
                     ["Refusing to restore", "the backup is of server name 'b.test', the host is configured for 'a.test'"]),
    # another implementation's backup
    "other_implementation": (_manifest(implementation="dendrite"), None, False, False,
                             ["the backup is of dendrite, the host is configured for synapse"]),
    # no manifest: not one of ours
    "no_manifest": (None, None, False, False, ["Cannot read", "not a backup made by mxfed.federation?"]),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every case at once: one host each, one ansible-playbook run (--check); the output of each
    host's tasks, and which hosts failed."""
    tmp = tmp_path_factory.mktemp("restore")
    hosts = {case_id: _host(tmp, case_id, manifest, key, force)
             for case_id, (manifest, key, force, _ok, _fragments) in CASES.items()}
    stats, messages, _tasks = run_restore_check(tmp, hosts)
    return tmp, stats, messages


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_restore_refusals(run, case_id):
    tmp, stats, messages = run
    host_key, ok, fragments = CASES[case_id][1], CASES[case_id][3], CASES[case_id][4]
    text = "\n".join(messages.get(case_id, []))
    assert (stats[case_id]["failures"] == 0) is ok, text[-3000:]
    for fragment in fragments:
        assert fragment in text, (fragment, text[-3000:])
    key = tmp / case_id / "etc-synapse" / "a.test.signing.key"
    assert (key.read_bytes() if key.exists() else None) == host_key
    assert not (tmp / case_id / "work").exists()
    assert not (tmp / case_id / "var-lib-synapse").exists()
