# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""playbooks/workers.yml refuses, before it installs anything, a layout whose Synapse processes
could open more PostgreSQL connections than postgresql_max_connections admits.

Runs the real playbook in check mode against localhost (connection local, no become), one
inventory host per case, each the database host and the main host of its own deployment (the
playbook's groups). The refusal is the first task after the facts; the test asserts that the
postgresql role never started and that the run stopped there (any_errors_fatal).
"""

from __future__ import annotations

import re
import sys

import pytest
import yaml
from _playbook_check import REPO, run_playbook_check


def _workers(count, host):
    return [{"name": "reader%d" % n, "type": "federation_reader", "host": host, "port": 8100 + n}
            for n in range(count)]


# case -> (extra host vars, message fragments); every case is refused
CASES = {
    # 1 + 9 processes x 10 = 100 > 95 (100 - 3 for superusers - 2 for the tools)
    "ten_processes": (lambda h: {"synapse_workers": _workers(9, h)},
                      ["10 Synapse processes (the main one and 9 workers) open up to 100 PostgreSQL connections",
                       "raise postgresql_max_connections to at least 105, or lower synapse_postgres_cp_max to at most 9"]),
    # a lowered max_connections: 1 + 2 processes x 20 = 60 > 45
    "low_max": (lambda h: {"synapse_workers": _workers(2, h), "synapse_postgres_cp_max": 20,
                           "postgresql_max_connections": 50},
                ["3 Synapse processes (the main one and 2 workers) open up to 60 PostgreSQL connections "
                 "(synapse_postgres_cp_max 20 each), more than the 45 that postgresql_max_connections 50 leaves"]),
    "not_a_number": (lambda h: {"synapse_postgres_cp_max": "ten"},
                     ["synapse_postgres_cp_max must be an integer of at least 1 (connections per Synapse process), got 'ten'."]),
}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_workers_refuses_more_connections_than_postgresql_admits(tmp_path, case_id):
    extra, fragments = CASES[case_id]
    host = dict({"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "ansible_become": False, "synapse_server_name": "a.test"}, **extra(case_id))
    stats, messages, tasks = run_playbook_check(
        tmp_path, "workers.yml", {case_id: host},
        groups={"synapse_db": [case_id], "synapse_main": [case_id]})
    text = "\n".join(messages.get(case_id, []))
    assert stats[case_id]["failures"] == 1, text[-3000:]
    for fragment in fragments:
        assert fragment in text, (fragment, text[-3000:])
    # Refused after the facts and before the postgresql role; nothing after it ran.
    assert tasks[case_id][-1] == "Check that PostgreSQL admits the database pools of the main process and every worker", tasks[case_id]
    assert len(tasks[case_id]) == 2, tasks[case_id]


def test_the_check_falls_back_to_the_roles_defaults():
    """Role defaults are not hostvars before the role runs, so the check repeats them as Jinja
    defaults; they must stay the roles' values."""
    text = (REPO / "playbooks" / "workers.yml").read_text(encoding="utf-8")
    for role, variable in (("synapse", "synapse_postgres_cp_max"), ("postgresql", "postgresql_max_connections")):
        default = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))[variable]
        found = re.findall(re.escape(variable) + r" \| default\((\d+)\)", text)
        assert found == [str(default)], (variable, found, default)
