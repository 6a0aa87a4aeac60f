# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The firewall role's SSH port and its refusal to cut off Ansible's own connection.

The role's tasks/ssh.yml runs for real, on localhost, in ONE ansible-playbook run: each case
is a play with its own variables (ansible_port, the role's inputs) and its own SSH_CONNECTION
(the task environment), which the role reads on the host with printenv as sshd sets it in every
session. The play records the port the role would let in, or the refusal's message.
Nothing on the host is touched (tasks/ssh.yml only reads).

Every case really runs over the local connection (an SSH connection would need an sshd here);
which plugin the role believes is in use comes from its internal __firewall_connection
(``ansible_connection`` in vars/main.yml), replaced per case. That one line is proven by the
lab_backup scenario, over SSH on port 2222 and over docker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SSH = "ansible.builtin.ssh"

# id: (connection, SSH_CONNECTION or None, play vars, expected SSH port or refusal fragments)
CASES = {
    # the port follows the connection
    "session_2222": (SSH, "10.0.0.4 51000 10.0.0.11 2222", {}, 2222),
    "session_beats_ansible_port": (SSH, "10.0.0.4 51000 10.0.0.11 22", {"ansible_port": 2222}, 22),
    "ansible_port_without_session": (SSH, None, {"ansible_port": 2200}, 2200),
    "ansible_ssh_port_without_session": ("ssh", None, {"ansible_ssh_port": 2201}, 2201),
    "ssh_default": ("ssh", None, {}, 22),
    "ipv6_session": (SSH, "fd00::4 51000 fd00::11 2022", {}, 2022),
    "garbled_session_ignored": (SSH, "nonsense", {"ansible_port": 2300}, 2300),
    # connections without a port: nothing to protect, 22 unless given
    "docker": ("community.docker.docker", None, {"ansible_port": 2222}, 22),
    "local": ("local", None, {}, 22),
    "local_over_ssh_session": ("local", "10.0.0.4 51000 10.0.0.11 2424", {}, 2424),
    "docker_given": ("community.docker.docker", None, {"firewall_ssh_port": 2222}, 2222),
    # given explicitly
    "given_same_as_session": (SSH, "10.0.0.4 51000 10.0.0.11 2222", {"firewall_ssh_port": 2222}, 2222),
    "given_other_port_kept_by_extra": (
        SSH, "10.0.0.4 51000 10.0.0.11 2222",
        {"firewall_ssh_port": 22, "firewall_extra_tcp_ports": [2222]}, 22),
    "given_other_port_kept_by_allowed": (
        SSH, "10.0.0.4 51000 10.0.0.11 443", {"firewall_ssh_port": 22}, 22),
    # refusals
    "refused_given_port_drops_session": (
        SSH, "10.0.0.4 51000 10.0.0.11 2222", {"firewall_ssh_port": 22},
        ["cut off Ansible's own connection", "connected over SSH on port 2222",
         "SSH_CONNECTION", "SSH on 22", "TCP 80, 443, 8448", "firewall_extra_tcp_ports", "Nothing was changed"]),
    "refused_given_port_drops_ansible_port": (
        SSH, None, {"ansible_port": 2222, "firewall_ssh_port": 22},
        ["connected over SSH on port 2222 (ansible_port)", "set it to 2222"]),
    "refused_empty_lists": (
        SSH, "10.0.0.4 51000 10.0.0.11 2222", {"firewall_ssh_port": 22, "firewall_allowed_tcp_ports": []},
        ["port 2222", "TCP nothing else"]),
}


def _play(case_id, connection, variables, out_dir):
    result = str(out_dir / f"{case_id}.json")
    return {
        "name": case_id,
        "hosts": "localhost",
        "gather_facts": False,
        "connection": "local",
        "vars": {"ansible_python_interpreter": sys.executable, **variables},
        "tasks": [{
            "name": "Case " + case_id,
            "block": [
                {"name": "Run the SSH port tasks", "ansible.builtin.include_role": {
                    "name": "mxfed.federation.firewall", "tasks_from": "ssh"},
                 "vars": {"__firewall_connection": connection}},
                {"name": "Record the port", "ansible.builtin.copy": {
                    "content": '{{ {"port": __firewall_ssh_port} | to_json }}', "dest": result, "mode": "0600"},
                 "delegate_to": "localhost"},
            ],
            "rescue": [
                {"name": "Record the refusal", "ansible.builtin.copy": {
                    "content": '{{ {"task": ansible_failed_task.name, "msg": ansible_failed_result.msg} | to_json }}',
                    "dest": result, "mode": "0600"},
                 "delegate_to": "localhost"},
            ],
        }],
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Run every case in one ansible-playbook run; case id -> {"port": int} or {"task", "msg"}."""
    tmp = tmp_path_factory.mktemp("firewall_ssh")
    plays = []
    for case_id, (connection, session, variables, _expected) in CASES.items():
        play = _play(case_id, connection, variables, tmp)
        if session is not None:
            # What sshd puts into the session's environment, where the role's printenv reads it.
            play["tasks"][0]["environment"] = {"SSH_CONNECTION": session}
        plays.append(play)
    path = tmp / "cases.yml"
    path.write_text(json.dumps(plays), encoding="utf-8")  # JSON is YAML
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(path)], cwd=REPO, env=env,
        capture_output=True, text=True, check=False, timeout=300)
    out = {}
    for case_id in CASES:
        result = tmp / f"{case_id}.json"
        assert result.is_file(), f"{case_id}: nothing recorded; ansible-playbook said:\n{proc.stdout[-3000:]}"
        out[case_id] = json.loads(result.read_text(encoding="utf-8"))
    return out


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_ssh_port(case_id, outcomes):
    expected = CASES[case_id][3]
    got = outcomes[case_id]
    if isinstance(expected, int):
        assert got == {"port": expected}
    else:
        assert got.get("task") == "Refuse a rule set that would cut off Ansible's own connection", got
        for fragment in expected:
            assert fragment in got["msg"], (fragment, got["msg"])
