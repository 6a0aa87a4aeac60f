"""conduit.toml as the conduit role renders it: valid TOML holding the values it was given.

The template is rendered by Ansible itself (``ansible.builtin.template`` run ad hoc against
localhost with the role's defaults plus one set of inputs), so what is tested is what runs on a
host, then parsed with ``tomllib``, the parser the role also uses in ``validate:``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml  # PyYAML ships with ansible-core

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "conduit"
TEMPLATE = ROLE / "templates" / "conduit.toml.j2"
DEFAULTS = ROLE / "defaults" / "main.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

NASTY = "q\"uote \\back\\slash\ttab\nnewline \x7f del \u00e9 \U0001f600 'single' {not a table}"


CASES: dict[str, dict] = {}


def case(name: str, **inputs) -> str:
    """Register one set of inputs (the role defaults apply underneath); return its name."""
    inputs.setdefault("conduit_server_name", "beta.test")
    CASES[name] = inputs
    return name


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    """Render every registered case in one ansible-playbook run (one task per case, the inputs as
    task vars over the role defaults) and return name -> rendered text."""
    tmp = tmp_path_factory.mktemp("conduit_toml")
    tasks = [
        {
            "name": f"render {name}",
            "ansible.builtin.template": {
                "src": str(TEMPLATE),
                "dest": str(tmp / f"{name}.toml"),
                "mode": "0600",
            },
            "vars": inputs,
            "ignore_errors": True,
        }
        for name, inputs in CASES.items()
    ]
    play = [
        {
            "name": "render conduit.toml",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "vars_files": [str(DEFAULTS)],
            "tasks": tasks,
        }
    ]
    playbook = tmp / "render.yml"
    playbook.write_text(json.dumps(play), encoding="utf-8")  # JSON is YAML
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = {}
    for name in CASES:
        path = tmp / f"{name}.toml"
        out[name] = path.read_text(encoding="utf-8") if path.exists() else None
    out["__log__"] = proc.stdout + proc.stderr
    return out


def parse(rendered: dict, name: str) -> dict:
    text = rendered[name]
    assert text is not None, f"case {name} did not render:\n{rendered['__log__']}"
    try:
        return tomllib.loads(text)
    except (
        tomllib.TOMLDecodeError
    ) as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"case {name}: rendered conduit.toml is not TOML ({exc}):\n{text}")


DEFAULTS_CASE = case("defaults")


def test_defaults(rendered):
    conf = parse(rendered, DEFAULTS_CASE)
    assert list(conf) == ["global"]
    assert conf["global"] == {
        "server_name": "beta.test",
        "database_backend": "rocksdb",
        "database_path": "/var/lib/matrix-conduit",
        "address": "127.0.0.1",
        "port": 8008,
        "max_request_size": 20971520,
        "allow_registration": False,
        "allow_check_for_updates": False,
        "allow_federation": True,
        "trusted_servers": ["matrix.org"],
    }


def test_header_marks_file_managed(rendered):
    lines = rendered[DEFAULTS_CASE].splitlines()
    assert lines[0].startswith("#")
    assert "Ansible managed" in lines[1]


SQLITE = case(
    "sqlite",
    conduit_database_backend="sqlite",
    conduit_data_dir="/srv/conduit data",
    conduit_listen_port="6167",  # a string (from -e or a template) must still become a TOML integer
    conduit_max_upload_size="1048576",
)


def test_sqlite_and_custom_paths_and_port(rendered):
    g = parse(rendered, SQLITE)["global"]
    assert g["database_backend"] == "sqlite"
    assert g["database_path"] == "/srv/conduit data"
    assert g["port"] == 6167 and isinstance(g["port"], int)
    assert g["max_request_size"] == 1048576


TRUSTED = {
    case("trusted_empty", conduit_trusted_key_servers=[]): [],
    case("trusted_default", conduit_trusted_key_servers=None): ["matrix.org"],
    case("trusted_one", conduit_trusted_key_servers=[{"server_name": "matrix.org"}]): ["matrix.org"],
    case(
        "trusted_many",
        conduit_trusted_key_servers=[
            {"server_name": "alpha.test"},
            {"server_name": "matrix.alpha.test:8448"},
            {"server_name": "[::1]:8448"},
        ],
    ): [
        "alpha.test",
        "matrix.alpha.test:8448",
        "[::1]:8448",
    ],
}


@pytest.mark.parametrize(("name", "expected"), list(TRUSTED.items()))
def test_trusted_servers(rendered, name, expected):
    assert parse(rendered, name)["global"]["trusted_servers"] == expected


UPDATES_ON = case("updates_on", conduit_allow_check_for_updates=True)
# A string from -e or a template must still become a TOML boolean, never the string "false".
UPDATES_STRING = case("updates_string", conduit_allow_check_for_updates="false")


def test_check_for_updates_off_unless_asked(rendered):
    # Conduit's own default is true (it fetches conduit.rs at start and hourly): the role always
    # writes the key, false unless the user asks.
    assert parse(rendered, DEFAULTS_CASE)["global"]["allow_check_for_updates"] is False
    assert parse(rendered, UPDATES_ON)["global"]["allow_check_for_updates"] is True
    assert parse(rendered, UPDATES_STRING)["global"]["allow_check_for_updates"] is False


FED_OFF = case(
    "federation_off", conduit_allow_federation=False, conduit_trusted_key_servers=[]
)


def test_federation_off(rendered):
    g = parse(rendered, FED_OFF)["global"]
    assert g["allow_federation"] is False
    assert g["trusted_servers"] == []


TOKEN = case(
    "token_escaped", conduit_allow_registration=True, conduit_registration_token=NASTY
)


def test_registration_with_token_escaped(rendered):
    g = parse(rendered, TOKEN)["global"]
    assert g["allow_registration"] is True
    assert g["registration_token"] == NASTY


TOKEN_EMPTY = case(
    "token_empty", conduit_allow_registration=True, conduit_registration_token=""
)


def test_registration_token_never_rendered_empty(rendered):
    # Conduit refuses to start with registration_token = "": the key must be absent instead.
    g = parse(rendered, TOKEN_EMPTY)["global"]
    assert g["allow_registration"] is True
    assert "registration_token" not in g


TOKEN_OFF = case(
    "token_registration_off",
    conduit_allow_registration=False,
    conduit_registration_token="secret",
)


def test_registration_token_not_written_when_registration_off(rendered):
    g = parse(rendered, TOKEN_OFF)["global"]
    assert g["allow_registration"] is False
    assert "registration_token" not in g


TOKEN_GEN = case(
    "token_generated",
    conduit_allow_registration=True,
    conduit_registration_token="",
    __conduit_registration_token="generated123",  # what the role reads from the token file
)


def test_generated_token_used_when_input_empty(rendered):
    assert parse(rendered, TOKEN_GEN)["global"]["registration_token"] == "generated123"


WELL_KNOWN = case(
    "well_known",
    conduit_well_known_server="matrix.beta.test:8448",
    conduit_well_known_client='https://matrix.beta.test/"odd\\path',
)
WELL_KNOWN_PARTIAL = case(
    "well_known_partial", conduit_well_known_server="matrix.beta.test:443"
)


def test_well_known(rendered):
    assert parse(rendered, WELL_KNOWN)["global"]["well_known"] == {
        "server": "matrix.beta.test:8448",
        "client": 'https://matrix.beta.test/"odd\\path',
    }
    assert parse(rendered, WELL_KNOWN_PARTIAL)["global"]["well_known"] == {
        "server": "matrix.beta.test:443"
    }
    assert "well_known" not in parse(rendered, DEFAULTS_CASE)["global"]


QUOTES = case("quotes", conduit_server_name='be"ta\\.test', conduit_listen_address="::1")


def test_strings_with_quotes_and_backslashes(rendered):
    g = parse(rendered, QUOTES)["global"]
    assert g["server_name"] == 'be"ta\\.test'
    assert g["address"] == "::1"


EXTRA_INPUT = {
    "allow_check_for_updates": True,  # overrides the value the role sets
    "max_concurrent_requests": 50,
    "db_cache_capacity_mb": 512.5,
    "log": NASTY,
    "port": 6167,  # overrides a value the role sets
    "trusted_servers": None,  # null removes a key: Conduit's own default applies
    "turn_uris": ["turn:turn.example.org?transport=udp", "turns:turn.example.org"],
    "odd key.with dots": "x",
    "well_known": {"client": "https://client.example.org"},
    "media": {
        "backend": "filesystem",
        "path": "/srv/media",
        "directory_structure": {},
        "retention": [
            {"space": "40G"},
            {"scope": "remote", "accessed": "30d", "created": "90days"},
        ],
    },
}
EXTRA = case(
    "extra_config",
    conduit_extra_config=EXTRA_INPUT,
    conduit_well_known_server="matrix.beta.test:8448",
)


def test_extra_config_merged_into_global(rendered):
    g = parse(rendered, EXTRA)["global"]
    assert g["allow_check_for_updates"] is True
    assert g["max_concurrent_requests"] == 50
    assert g["db_cache_capacity_mb"] == 512.5
    assert g["log"] == NASTY
    assert g["port"] == 6167
    assert "trusted_servers" not in g
    assert g["turn_uris"] == EXTRA_INPUT["turn_uris"]
    assert g["odd key.with dots"] == "x"
    # merged recursively with the table the role renders itself
    assert g["well_known"] == {
        "server": "matrix.beta.test:8448",
        "client": "https://client.example.org",
    }
    assert g["media"] == EXTRA_INPUT["media"]
    assert g["server_name"] == "beta.test"


def _specs() -> dict:
    return yaml.safe_load(
        (ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8")
    )["argument_specs"]["main"]["options"]


def test_readme_variable_table_matches_argument_specs():
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    table = set(
        re.findall(r"^\| `(conduit_[a-z0-9_]+)` \|", readme, flags=re.MULTILINE)
    )
    assert table == set(_specs())


def test_defaults_match_argument_specs():
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    specs = _specs()
    required = {name for name, spec in specs.items() if spec.get("required")}
    assert set(defaults) == set(specs) - required
    for name, value in defaults.items():
        assert specs[name].get("default") == value, name
