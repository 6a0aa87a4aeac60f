# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""playbooks/migrate_postgresql.yml refuses, before it installs or stops anything, what it must
not migrate: no recent backup of the server, a host that is not a Synapse homeserver, workers
meant for another host, workers without redis_listen_address.

Runs the real playbook with ansible-playbook against localhost (connection local, --check, no
become), one inventory host per case with its own backup directory; every refusal comes before
the first task that touches the host (the PostgreSQL role), which the test asserts.
"""

from __future__ import annotations

import datetime
import sys

import pytest
from _playbook_check import run_playbook_check

NOW = datetime.datetime.now(datetime.timezone.utc)


def _name(server_name, hours_ago):
    return "%s_synapse_%s.tar.gz.enc" % (server_name, (NOW - datetime.timedelta(hours=hours_ago)).strftime("%Y%m%dT%H%M%SZ"))


WORKER_HERE = {"name": "fed-inbound1", "type": "federation_inbound", "port": 8083}

# case -> (archives in its backup dir, extra host vars, message fragments)
CASES = {
    "no_backup": ([], {}, ["Refusing to migrate a.test without a recent backup: there is no archive of a.test (Synapse) there.",
                           "migrate_skip_backup=true"]),
    "other_server": ([_name("b.test", 1)], {}, ["there is no archive of a.test (Synapse) there"]),
    "stale": ([_name("a.test", 30)], {}, ["is 30.0 h old (more than migrate_backup_max_age_hours 24.0)"]),
    "stale_short_max": ([_name("a.test", 2)], {"migrate_backup_max_age_hours": 1},
                        ["is 2.0 h old (more than migrate_backup_max_age_hours 1.0)"]),
    "dendrite": ([_name("a.test", 1)], {"homeserver_implementation": "dendrite"},
                 ["must be a homeserver with homeserver_implementation synapse (got \"dendrite\")"]),
    "worker_elsewhere": ([], {"migrate_skip_backup": True,
                              "synapse_workers": [dict(WORKER_HERE, host="other-host")], "redis_listen_address": "10.0.0.5"},
                         ["every entry of synapse_workers must have host worker_elsewhere"]),
    "workers_no_redis": ([_name("a.test", 1)], {"synapse_workers": [dict(WORKER_HERE, host="workers_no_redis")]},
                         ["with workers, redis_listen_address must be a private address of the host"]),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("migrate")
    hosts = {}
    for case_id, (archives, extra, _fragments) in CASES.items():
        backups = tmp / case_id / "backups"
        backups.mkdir(parents=True)
        for name in archives:
            (backups / name).write_bytes(b"")
        hosts[case_id] = dict({
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False,
            "homeserver_server_name": "a.test", "homeserver_implementation": "synapse",
            "migrate_backup_dir": str(backups)}, **extra)
    return run_playbook_check(tmp, "migrate_postgresql.yml", hosts, ["-e", "target=all"])


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_migrate_refusals(run, case_id):
    stats, messages, tasks = run
    text = "\n".join(messages.get(case_id, []))
    assert stats[case_id]["failures"] == 1, text[-3000:]
    for fragment in CASES[case_id][2]:
        assert fragment in text, (fragment, text[-3000:])
    # Refused before anything that looks at or changes the host.
    assert "PostgreSQL on this host, listening on localhost only" not in tasks[case_id], tasks[case_id]
