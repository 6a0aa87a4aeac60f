# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""playbooks/site.yml with the website elsewhere (docs/topologies.md): which documents a web host
serves for which delegation, and the refusals of topologies that cannot work.

Runs the real playbook with ansible-playbook against localhost (connection local, --check, no
become): two web hosts in files mode under a temporary directory, homeservers that name them in
homeserver_web_host. Homeservers that would pass validation are left out with --limit (their
hostvars are still read by the web hosts), so nothing is installed; the ones that must be
refused stop at the homeserver role's checks, before any task touches the host.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SITE = REPO / "playbooks" / "site.yml"

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False}

# Homeservers: name -> vars. Those in LIMITED are run (and must be refused).
HOMESERVERS = {
    "hs-wk": {"homeserver_server_name": "a.test", "homeserver_host": "matrix.a.test", "homeserver_web_host": "web-files"},
    "hs-srv": {"homeserver_server_name": "b.test", "homeserver_host": "matrix.b.test", "homeserver_delegation": "srv",
               "homeserver_web_host": "web-files", "homeserver_federation_port": 8449,
               "homeserver_server_name_certificate": "/nonexistent/b.test.pem",
               "homeserver_server_name_certificate_key": "/nonexistent/b.test.key"},
    "hs-none-elsewhere": {"homeserver_server_name": "c.test", "homeserver_delegation": "none",
                          "homeserver_web_host": "web-refuses"},
    "hs-srv-no-cert": {"homeserver_server_name": "d.test", "homeserver_host": "matrix.d.test",
                       "homeserver_delegation": "srv", "homeserver_web_host": "web-elsewhere-not-in-inventory"},
    "hs-srv-no-cert-ok-host": {"homeserver_server_name": "e.test", "homeserver_host": "matrix.e.test",
                               "homeserver_delegation": "srv", "homeserver_web_host": "web-files-2"},
    "hs-cert-without-key": {"homeserver_server_name": "f.test", "homeserver_host": "matrix.f.test",
                            "homeserver_server_name_certificate": "/x/f.test.pem"},
    "hs-self": {"homeserver_server_name": "g.test", "homeserver_host": "matrix.g.test", "homeserver_web_host": "hs-self"},
    # also the main host of a Synapse with workers (synapse_main, below): workers.yml deploys those
    "hs-also-main": {"homeserver_server_name": "h.test", "homeserver_host": "matrix.h.test"},
}
# Hosts of the workers' groups (workers.yml, imported by site.yml).
WORKER_GROUPS = {"synapse_main": ["hs-also-main"]}
LIMITED = ["web-files", "web-refuses", "hs-none-elsewhere", "hs-srv-no-cert", "hs-srv-no-cert-ok-host",
           "hs-cert-without-key", "hs-self", "hs-also-main"]

REFUSALS = {
    "web-refuses": ["homeserver_delegation is 'none' for c.test", "cannot be served from web-refuses"],
    "hs-none-elsewhere": ["homeserver_delegation is 'none', so the A/AAAA records of c.test point at this host",
                          "homeserver_web_host must be empty (got 'web-refuses')"],
    "hs-srv-no-cert": ["homeserver_web_host must be the inventory name of the host that serves the website of "
                       '"d.test"', '"web-elsewhere-not-in-inventory"'],
    "hs-srv-no-cert-ok-host": ["homeserver_delegation is 'srv' and the website of e.test is on homeserver_web_host "
                               "(web-files-2)", "Set homeserver_server_name_certificate and "
                               "homeserver_server_name_certificate_key"],
    "hs-cert-without-key": ["homeserver_server_name_certificate and homeserver_server_name_certificate_key go "
                            "together", "homeserver_server_name_certificate is only used with homeserver_delegation "
                            "srv or none"],
    "hs-self": ["homeserver_web_host must be another host than this one", '(got "hs-self")'],
    "hs-also-main": ["hs-also-main is in homeservers and in synapse_main: a host is either a homeserver of its own"],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    web = {name: dict(LOCAL, well_known_mode="files", firewall_backend="none",
                      well_known_files_dir=str(tmp / name / "{{ well_known_server_name }}"))
           for name in ("web-files", "web-files-2", "web-refuses")}
    homeservers = {name: dict(LOCAL, **hostvars) for name, hostvars in HOMESERVERS.items()}
    inventory = tmp / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {
        "webservers": {"hosts": web}, "homeservers": {"hosts": homeservers},
        **{group: {"hosts": {name: {} for name in names}} for group, names in WORKER_GROUPS.items()}}}}),
        encoding="utf-8")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_FORKS="10")
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(SITE), "--check", "--limit", ",".join(LIMITED)],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert proc.stdout.strip().startswith("{"), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    results = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                results.setdefault(host, []).append((task["task"]["name"], result))
    return tmp, report["stats"], results


def _messages(results, host):
    out = []
    for _name, result in results.get(host, []):
        out.append(str(result.get("msg", "")))
        out.extend(str(item.get("msg", "")) for item in result.get("results", []) if isinstance(item, dict))
    return "\n".join(out)


def _loop_items(results, host, task_name):
    """The items of every run of a task on a host, one list per run."""
    runs = []
    for name, result in results.get(host, []):
        if name.split(" : ", 1)[-1] == task_name:
            runs.append([item.get("item") for item in result.get("results", [])])
    return runs


def test_web_host_serves_what_each_delegation_needs(run):
    tmp, stats, results = run
    assert stats["web-files"]["failures"] == 0, _messages(results, "web-files")[-3000:]
    # One run of the well_known role per homeserver naming this host (hs-wk, then hs-srv):
    # well-known delegation announces both documents; srv the client document only, and removes
    # a server document served before (it would win over the SRV record).
    assert _loop_items(results, "web-files", "Check the rendered JSON") == [["server", "client"], ["client"]]
    removed = _loop_items(results, "web-files", "Remove the documents no longer announced")
    assert [sorted(items) for items in removed] == [["support"], ["server", "support"]]
    # Check mode: nothing written.
    assert not (tmp / "web-files").exists()


def test_web_host_no_homeserver_names_does_nothing(run):
    _tmp, stats, _results = run
    # web-files-2 is only named by a homeserver that is refused, and is not in --limit.
    assert "web-files-2" not in stats


@pytest.mark.parametrize("host", sorted(REFUSALS))
def test_refusals(run, host):
    _tmp, stats, results = run
    text = _messages(results, host)
    assert stats[host]["failures"] >= 1, text[-3000:]
    for fragment in REFUSALS[host]:
        assert fragment in text, (fragment, text[-3000:])
    # Refused before anything on the host changed (check mode reports what would change).
    assert stats[host]["changed"] == 0, text[-3000:]


def _role_defaults():
    with (REPO / "roles" / "homeserver" / "defaults" / "main.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_site_passes_the_role_defaults():
    """The web play reads each homeserver's few words from its hostvars, falling back to the role's
    defaults: written out in site.yml, they must be the role's."""
    with SITE.open(encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    web_play = next(play for play in plays if play["hosts"] == "webservers")
    task = next(task for task in web_play["tasks"]
                if task.get("ansible.builtin.include_role", {}).get("tasks_from") == "well_known")
    defaults = _role_defaults()
    passed = task["vars"]
    spec = yaml.safe_load((REPO / "roles" / "homeserver" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    assert set(passed) == set(spec["argument_specs"]["well_known"]["options"])
    for name, template in passed.items():
        assert f"hostvars[site_homeserver]['{name}']" in template, (name, template)
        match = re.search(r"\| default\((.*)\) \}\}$", template)
        if name not in defaults:
            assert match is None, (name, template)
            continue
        assert match, (name, template)
        assert yaml.safe_load(match.group(1)) == defaults[name], (name, template, defaults[name])


def test_example_inventory_has_both_kinds_of_hosts():
    """examples/inventory: each homeserver_web_host is a host of the webservers group, and the
    playbook's first two plays find their hosts in it."""
    inventory = REPO / "examples" / "inventory"
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(SITE), "--list-hosts"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    plays = re.split(r"\n\s*play #\d+", proc.stdout)[1:]
    hosts = [set(re.findall(r"^\s{6}(\S+)$", play, re.M)) for play in plays]
    assert hosts[:2] == [{"www1.example.org", "www2.example.net"},
                         {"matrix1.example.org", "chat.example.net", "example.com"}], proc.stdout
    # The imported workers.yml finds none of its groups there: its plays run on no host.
    assert len(hosts) == 6 and all(not play for play in hosts[2:]), proc.stdout
    data = yaml.safe_load((inventory / "hosts.yml").read_text(encoding="utf-8"))
    web_hosts = set(data["webservers"]["hosts"])
    named = {h.get("homeserver_web_host") for h in data["homeservers"]["hosts"].values()} - {None}
    assert named == web_hosts
