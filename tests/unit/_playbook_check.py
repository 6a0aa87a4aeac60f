# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Run one of the collection's playbooks in check mode against an inventory of local hosts (one
host per test case), as the playbook refusal tests do, and read what each host was told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def run_playbook_check(tmp, playbook, hosts, extra_args=(), groups=None):
    """ansible-playbook -i <hosts as inventory> playbooks/<playbook> --check <extra_args>, with the
    JSON callback; ``groups`` maps a group name to the names of its hosts. Returns (stats,
    messages, tasks): the recap per host, and per host the message and the name of every task it
    ran, in order."""
    inventory = Path(tmp) / "inventory.yml"
    children = {group: {"hosts": {name: {} for name in names}} for group, names in (groups or {}).items()}
    inventory.write_text(json.dumps({"all": {"hosts": hosts, "children": children}}), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_FORKS="10")
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(REPO / "playbooks" / playbook), "--check"]
        + list(extra_args),
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300)
    try:
        report = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError("ansible-playbook gave no JSON report (rc %s): %s" % (
            proc.returncode, (proc.stdout + proc.stderr)[-3000:])) from exc
    messages, tasks = {}, {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                messages.setdefault(host, []).append(str(result.get("msg", "")))
                tasks.setdefault(host, []).append(task["task"]["name"])
    return report["stats"], messages, tasks


def run_restore_check(tmp, hosts):
    """playbooks/restore.yml in check mode against every case host. Its first play checks, on
    localhost, that an archive is named at all, so localhost takes part with a placeholder."""
    hosts = dict(hosts, localhost={"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                   "archive": "per host"})
    return run_playbook_check(tmp, "restore.yml", hosts, ["-e", "target=all:!localhost"])
