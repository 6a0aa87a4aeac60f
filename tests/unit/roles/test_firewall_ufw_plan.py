# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""What the firewall role's ufw tasks change, decided from one read of ufw's state.

tasks/ufw.yml reads `ufw status verbose && ufw show added` once and loops only over what differs;
the decisions are the variables of vars/main.yml that its tasks use as they are
(__firewall_ufw_to_allow, __firewall_ufw_to_close, __firewall_ufw_deny_needed,
__firewall_ufw_enable_needed). Each case here is ufw's output as ufw 0.36 prints it (the lines
were taken from the lab's hosts) and the role's inputs; the variables are evaluated by
ansible-playbook on localhost from the role's own vars/main.yml (the role's defaults/main.yml
under the case's inputs as play variables), in ONE run.
Nothing on the host is touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
ROLE = REPO / "roles" / "firewall"

ACTIVE = [
    "Status: active",
    "Logging: on (low)",
    "Default: deny (incoming), allow (outgoing), deny (routed)",
    "New profiles: skip",
    "",
    "To                         Action      From",
    "--                         ------      ----",
    "22/tcp                     ALLOW IN    Anywhere                   # mxfed.federation ssh",
]
ADDED = "Added user rules (see 'ufw status' for running firewall):"
CONVERGED = [
    "ufw allow 22/tcp comment 'mxfed.federation ssh'",
    "ufw allow 80/tcp comment 'mxfed.federation'",
    "ufw allow 443/tcp comment 'mxfed.federation'",
    "ufw allow 8448/tcp comment 'mxfed.federation'",
]

# id: (ufw's output lines, role inputs incl. __firewall_ssh_port, expected decisions)
CASES = {
    "fresh_inactive": (
        ["Status: inactive", ADDED, "(None)"], {"__firewall_ssh_port": 22},
        {"allow": ["22/tcp", "80/tcp", "443/tcp", "8448/tcp"], "close": [], "deny": True, "enable": True}),
    "converged": (
        ACTIVE + [ADDED] + CONVERGED, {"__firewall_ssh_port": 22},
        {"allow": [], "close": [], "deny": False, "enable": False}),
    "rules_added_while_inactive": (
        ["Status: inactive", ADDED] + CONVERGED, {"__firewall_ssh_port": 22},
        {"allow": [], "close": [], "deny": True, "enable": True}),
    "default_allow": (
        [line.replace("deny (incoming)", "allow (incoming)") for line in ACTIVE] + [ADDED] + CONVERGED,
        {"__firewall_ssh_port": 22},
        {"allow": [], "close": [], "deny": True, "enable": False}),
    "port_dropped_is_closed": (
        ACTIVE + [ADDED] + CONVERGED + ["ufw allow 9000/tcp comment 'mxfed.federation'"],
        {"__firewall_ssh_port": 22},
        {"allow": [], "close": ["9000/tcp"], "deny": False, "enable": False}),
    "other_rules_left_alone": (
        ACTIVE + [ADDED] + CONVERGED + ["ufw allow 8080/tcp", "ufw allow 9000/tcp comment 'monitoring'",
                                        "ufw allow from 10.0.0.0/8 to any port 5432 proto tcp"],
        {"__firewall_ssh_port": 22},
        {"allow": [], "close": [], "deny": False, "enable": False}),
    # The same port without our comment (added by hand): allowed again with the comment.
    "own_port_without_comment": (
        ACTIVE + [ADDED] + CONVERGED[:3] + ["ufw allow 8448/tcp"], {"__firewall_ssh_port": 22},
        {"allow": ["8448/tcp"], "close": [], "deny": False, "enable": False}),
    "new_ssh_port_first_old_one_kept": (
        ACTIVE + [ADDED] + CONVERGED, {"__firewall_ssh_port": 2222},
        {"allow": ["2222/tcp"], "close": [], "deny": False, "enable": False}),
    # The SSH port in a port list as well: one rule (the SSH one), never a second with the
    # other comment (ufw would rewrite the comment back and forth on every run).
    "ssh_port_also_listed": (
        ACTIVE + [ADDED] + CONVERGED, {"__firewall_ssh_port": 22, "firewall_extra_tcp_ports": [22, 9100]},
        {"allow": ["9100/tcp"], "close": [], "deny": False, "enable": False}),
    # A port this role opened as a plain port that is now the SSH port: never closed.
    "old_port_now_ssh_not_closed": (
        ACTIVE + [ADDED] + CONVERGED + ["ufw allow 2222/tcp comment 'mxfed.federation'"],
        {"__firewall_ssh_port": 2222},
        {"allow": ["2222/tcp"], "close": [], "deny": False, "enable": False}),
    "udp_and_duplicates": (
        ACTIVE + [ADDED] + CONVERGED, {"__firewall_ssh_port": 22, "firewall_allowed_udp_ports": [443],
                                       "firewall_extra_udp_ports": [443, 3478], "firewall_extra_tcp_ports": [443]},
        {"allow": ["443/udp", "3478/udp"], "close": [], "deny": False, "enable": False}),
    "everything_dropped": (
        ACTIVE + [ADDED] + CONVERGED, {"__firewall_ssh_port": 22, "firewall_allowed_tcp_ports": []},
        {"allow": [], "close": ["80/tcp", "443/tcp", "8448/tcp"], "deny": False, "enable": False}),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("firewall_ufw")
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    plays = []
    for case_id, (lines, inputs, _expected) in CASES.items():
        result = str(tmp / f"{case_id}.json")
        plays.append({
            "name": case_id,
            "hosts": "localhost",
            "gather_facts": False,
            "connection": "local",
            "vars": {"ansible_python_interpreter": sys.executable,
                     "__firewall_ufw_state": {"rc": 0, "stdout_lines": lines}, **defaults, **inputs},
            "tasks": [
                {"name": "Load the role's internals", "ansible.builtin.include_vars": str(ROLE / "vars" / "main.yml")},
                {"name": "Record the decisions", "ansible.builtin.copy": {
                    "content": "{{ {'allow': __firewall_ufw_to_allow, 'close': __firewall_ufw_to_close,"
                               " 'deny': __firewall_ufw_deny_needed, 'enable': __firewall_ufw_enable_needed} | to_json }}",
                    "dest": result, "mode": "0600"}},
            ],
        })
    path = tmp / "cases.yml"
    path.write_text(json.dumps(plays), encoding="utf-8")  # JSON is YAML
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(path)], cwd=REPO,
        capture_output=True, text=True, check=False, timeout=300)
    out = {}
    for case_id in CASES:
        result = tmp / f"{case_id}.json"
        assert result.is_file(), f"{case_id}: nothing recorded; ansible-playbook said:\n{proc.stdout[-3000:]}"
        out[case_id] = json.loads(result.read_text(encoding="utf-8"))
    return out


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_ufw_plan(case_id, outcomes):
    assert outcomes[case_id] == CASES[case_id][2]
