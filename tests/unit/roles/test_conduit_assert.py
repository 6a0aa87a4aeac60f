"""The conduit role's input checks (tasks/assert.yml) against a real data directory on localhost.

Conduit refuses to start when database_path holds a database of another backend than
conduit_database_backend (src/database/mod.rs, check_db_setup: RocksDB's IDENTITY, SQLite's
conduit.db, sled's db) and systemd then restarts it in a loop; the role must fail first, naming
the variable. Each case runs the role's checks (tasks_from: assert, the role's defaults and
vars) through ansible-playbook on localhost against a temporary data directory laid out as
Conduit leaves it; nothing outside that directory is touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SHA = "0" * 64

# name: (files and directories in the data dir, role vars, None = passes / fragments of the failure)
CASES = {
    "fresh_host": (None, {"conduit_database_backend": "rocksdb"}, None),
    "empty_dir": ([], {"conduit_database_backend": "sqlite"}, None),
    "rocksdb_kept": (["IDENTITY", "CURRENT"], {"conduit_database_backend": "rocksdb"}, None),
    "sqlite_kept": (["conduit.db"], {"conduit_database_backend": "sqlite"}, None),
    "rocksdb_to_sqlite": (
        ["IDENTITY", "CURRENT"],
        {"conduit_database_backend": "sqlite"},
        ["conduit_database_backend is 'sqlite'", "holds a rocksdb database", "/IDENTITY",
         "Set conduit_database_backend: rocksdb", "Changing the database backend", "nothing was changed"],
    ),
    "sqlite_to_rocksdb": (
        ["conduit.db"],
        {"conduit_database_backend": "rocksdb"},
        ["conduit_database_backend is 'rocksdb'", "holds a sqlite database", "/conduit.db",
         "Set conduit_database_backend: sqlite"],
    ),
    "sled_left_over": (
        ["db/"],
        {"conduit_database_backend": "rocksdb"},
        ["conduit_database_backend is 'rocksdb'", "holds a sled database"],
    ),
    # Two databases side by side: Conduit warns and starts, so the role does not refuse either.
    "two_databases": (["IDENTITY", "conduit.db"], {"conduit_database_backend": "sqlite"}, None),
    # conduit_binary_sha256 is required only for downloads.
    "binary_without_sha": ([], {"conduit_install_method": "binary", "conduit_binary_sha256": ""}, None),
    "deb_without_sha": ([], {"conduit_install_method": "deb", "conduit_deb_src": "/x.deb", "conduit_binary_sha256": ""}, None),
    "url_without_sha": (
        [],
        {"conduit_install_method": "url", "conduit_binary_sha256": ""},
        ["conduit_binary_sha256 must be the SHA-256"],
    ),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("conduit_assert")
    tasks = []
    for name, (layout, inputs, _expected) in CASES.items():
        data_dir = tmp / name / "data"
        if layout is not None:
            data_dir.mkdir(parents=True)
            for entry in layout:
                if entry.endswith("/"):
                    (data_dir / entry).mkdir()
                else:
                    (data_dir / entry).write_text("test marker\n", encoding="utf-8")
        role_vars = {
            "conduit_server_name": "beta.test",
            "conduit_install_method": "binary",
            "conduit_binary_src": "/bin/true",
            "conduit_binary_sha256": SHA,
            "conduit_data_dir": str(data_dir),
            **inputs,
        }
        out = tmp / f"{name}.json"
        tasks.append({
            "name": f"case {name}",
            "block": [
                {"name": "assert", "ansible.builtin.include_role": {
                    "name": "mxfed.federation.conduit", "tasks_from": "assert"}, "vars": role_vars},
                {"name": "passed", "ansible.builtin.copy": {
                    "content": '{"failed": false}', "dest": str(out), "mode": "0644"}},
            ],
            "rescue": [
                {"name": "failed", "ansible.builtin.copy": {
                    "content": "{{ {'failed': true, 'msg': ansible_failed_result.msg} | to_json }}",
                    "dest": str(out), "mode": "0644"}},
            ],
        })
    play = [{
        "name": "conduit assert cases",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }]
    playbook = tmp / "cases.yml"
    playbook.write_text(json.dumps(play), encoding="utf-8")
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=300,
    )
    found = {}
    for name in CASES:
        path = tmp / f"{name}.json"
        assert path.exists(), f"case {name} did not run:\n{proc.stdout}{proc.stderr}"
        found[name] = json.loads(path.read_text(encoding="utf-8"))
    # The data directories are untouched: the checks only look.
    for name, (layout, _inputs, _expected) in CASES.items():
        data_dir = tmp / name / "data"
        if layout is None:
            assert not data_dir.exists(), name
        else:
            assert sorted(p.name + ("/" if p.is_dir() else "") for p in data_dir.iterdir()) == sorted(layout), name
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_case(results, name):
    expected = CASES[name][2]
    got = results[name]
    if expected is None:
        assert got == {"failed": False}, got
    else:
        assert got["failed"], f"{name}: the checks passed, expected a refusal"
        for fragment in expected:
            assert fragment in got["msg"], f"{name}: {fragment!r} not in {got['msg']!r}"
