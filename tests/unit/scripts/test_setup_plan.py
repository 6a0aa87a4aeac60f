"""scripts/setup decides what to install and start from what is really usable.

Run against a PATH that holds only the stand-ins each case names (no host tool leaks in), with
`--plan`, which prints the decision and changes nothing.
"""
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BASH = "/bin/bash"

# stand-in scripts: name -> body
ANSWERS = "#!/bin/sh\nexit 0\n"
NO_ENGINE = '#!/bin/sh\n[ "$1" = info ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }\nexit 0\n'
PY_WITH_VENV = "#!/bin/sh\nexit 0\n"
PY_WITHOUT_VENV = "#!/bin/sh\necho 'No module named ensurepip' >&2\nexit 1\n"
TOOLS = {"debootstrap": ANSWERS, "rsync": ANSWERS, "git": ANSWERS, "sysctl": ANSWERS, "python3": PY_WITH_VENV}


def plan(tmp_path, tools):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in tools.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(0o755)
    out = subprocess.run([BASH, str(ROOT / "scripts/setup"), "--plan"], env={"PATH": str(bin_dir)},
                         capture_output=True, text=True, timeout=30, check=True).stdout
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    install = [] if lines["install"] == "(nothing)" else lines["install"].split()
    return install, lines["engine"]


@pytest.mark.parametrize("extra, want_install, want_engine", [
    # a client with no engine behind it: the engine must be installed (the first-contact bug)
    ({"docker": NO_ENGINE}, ["docker.io"], "install"),
    # neither client nor engine
    ({}, ["docker.io"], "install"),
    # a client and dockerd, engine not running: start it, install nothing
    ({"docker": NO_ENGINE, "dockerd": ANSWERS}, [], "start"),
    # an engine that answers (local or a remote context): use it
    ({"docker": ANSWERS}, [], "running"),
])
def test_engine_decision(tmp_path, extra, want_install, want_engine):
    install, engine = plan(tmp_path, {**TOOLS, **extra})
    assert install == want_install
    assert engine == want_engine


def test_bare_path_installs_every_tool(tmp_path):
    install, engine = plan(tmp_path, {})
    assert sorted(install) == sorted(["debootstrap", "rsync", "git", "procps", "python3", "python3-venv",
                                      "docker.io"])
    assert engine == "install"


def test_python_without_venv_module(tmp_path):
    install, engine = plan(tmp_path, {**TOOLS, "python3": PY_WITHOUT_VENV, "docker": ANSWERS})
    assert (install, engine) == (["python3-venv"], "running")


def test_plan_changes_nothing(tmp_path):
    before = sorted(p.name for p in ROOT.iterdir())
    plan(tmp_path, {})
    assert sorted(p.name for p in ROOT.iterdir()) == before
