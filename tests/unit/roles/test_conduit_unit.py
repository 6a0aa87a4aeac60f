"""matrix-conduit.service as the conduit role renders it, parsed as systemd reads it.

Rendered by Ansible's own ``template`` module against localhost with the role's defaults and
vars plus one set of inputs (what runs on a host), then parsed into (section, key) -> values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "conduit"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

CASES = {
    "defaults": {},
    "simple": {"conduit_service_type": "simple"},
    "deb": {"conduit_install_method": "deb", "conduit_config_dir": "/srv/conduit etc"},
}


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("conduit_unit")
    tasks = [
        {
            "name": f"render {name}",
            "ansible.builtin.template": {
                "src": str(ROLE / "templates" / "matrix-conduit.service.j2"),
                "dest": str(tmp / f"{name}.service"),
                "mode": "0644",
            },
            "vars": {"conduit_server_name": "beta.test", **inputs},
        }
        for name, inputs in CASES.items()
    ]
    play = [
        {
            "name": "render the unit",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
            "tasks": tasks,
        }
    ]
    playbook = tmp / "render.yml"
    playbook.write_text(json.dumps(play), encoding="utf-8")
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {name: parse_unit((tmp / f"{name}.service").read_text(encoding="utf-8")) for name in CASES}


def parse_unit(text: str) -> dict:
    """(section, key) -> list of values, in order, as systemd collects repeated keys."""
    out: dict = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, value = line.split("=", 1) if "=" in line else (line, "")
        out.setdefault((section, key), []).append(value)
    return out


def test_notify_by_default(units):
    # Conduit 0.10 sends READY=1 through sd_notify once its database is open (Cargo feature
    # "systemd", default on): a start or restart then waits for it.
    assert units["defaults"][("Service", "Type")] == ["notify"]


def test_simple_for_binaries_without_sd_notify(units):
    assert units["simple"][("Service", "Type")] == ["simple"]


def test_no_color_and_config_in_the_environment(units):
    env = units["defaults"][("Service", "Environment")]
    assert "NO_COLOR=1" in env
    assert '"CONDUIT_CONFIG=/etc/matrix-conduit/conduit.toml"' in env
    assert '"CONDUIT_CONFIG=/srv/conduit etc/conduit.toml"' in units["deb"][("Service", "Environment")]


def test_exec_path_per_install_method(units):
    assert units["defaults"][("Service", "ExecStart")] == ["/usr/local/bin/conduit"]
    assert units["deb"][("Service", "ExecStart")] == ["/usr/sbin/matrix-conduit"]


def test_notify_socket_reachable_from_the_sandbox(units):
    # sd_notify writes to an AF_UNIX datagram socket: the address families must allow it.
    families = units["defaults"][("Service", "RestrictAddressFamilies")][0].split()
    assert "AF_UNIX" in families
