"""Every role's meta/argument_specs.yml and defaults/main.yml describe the same variables.

Applies to every role under roles/ (except internal ones, named with a leading underscore), so
a role added later is checked without touching this file:
- every variable in defaults/main.yml has a spec entry in some entry point, with the same default;
- every spec option with a default appears in defaults/main.yml;
- every option has a type and a description; lists say the type of their elements;
- an option described in several entry points is described the same way (type, default).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(
    p.name for p in ROLES_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")
) if ROLES_DIR.is_dir() else []


def _load(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _defaults(role: str) -> dict:
    path = ROLES_DIR / role / "defaults" / "main.yml"
    if not path.is_file():
        return {}
    return _load(path) or {}


def _entry_points(role: str) -> dict:
    path = ROLES_DIR / role / "meta" / "argument_specs.yml"
    assert path.is_file(), f"roles/{role}: meta/argument_specs.yml is missing"
    specs = (_load(path) or {}).get("argument_specs")
    assert isinstance(specs, dict) and specs, f"roles/{role}: argument_specs has no entry point"
    return specs


def _options(role: str) -> dict[str, list[tuple[str, dict]]]:
    """Option name -> [(entry point, spec)], over all entry points."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for entry, spec in _entry_points(role).items():
        for name, option in ((spec or {}).get("options") or {}).items():
            found.setdefault(name, []).append((entry, option or {}))
    return found


def test_roles_found():
    assert ROLES, f"no roles under {ROLES_DIR}"


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_specified_with_the_same_default(role):
    options = _options(role)
    problems = []
    for name, value in _defaults(role).items():
        if name not in options:
            problems.append(f"{name}: in defaults/main.yml but in no entry point of argument_specs.yml")
            continue
        for entry, option in options[name]:
            if "default" not in option:
                problems.append(f"{name}: entry point {entry} gives no default (defaults/main.yml: {value!r})")
            elif option["default"] != value:
                problems.append(
                    f"{name}: entry point {entry} default {option['default']!r} != defaults/main.yml {value!r}"
                )
    assert not problems, f"roles/{role}:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_specified_default_is_in_defaults(role):
    defaults = _defaults(role)
    problems = [
        f"{name}: entry point {entry} has default {option['default']!r}, defaults/main.yml has none"
        for name, occurrences in _options(role).items()
        for entry, option in occurrences
        if "default" in option and name not in defaults
    ]
    assert not problems, f"roles/{role}:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_type_and_description(role):
    problems = []
    for name, occurrences in _options(role).items():
        for entry, option in occurrences:
            if not option.get("type"):
                problems.append(f"{name} ({entry}): no type")
            description = option.get("description")
            if not description or (isinstance(description, list) and not all(description)):
                problems.append(f"{name} ({entry}): no description")
            if option.get("type") == "list" and not option.get("elements"):
                problems.append(f"{name} ({entry}): a list without elements")
            if option.get("required") and "default" in option:
                problems.append(f"{name} ({entry}): required and with a default")
    assert not problems, f"roles/{role}:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_shared_options_agree_between_entry_points(role):
    problems = []
    for name, occurrences in _options(role).items():
        first_entry, first = occurrences[0]
        for entry, option in occurrences[1:]:
            for key in ("type", "default", "elements", "choices"):
                if option.get(key) != first.get(key):
                    problems.append(
                        f"{name}: {key} is {option.get(key)!r} in {entry} but {first.get(key)!r} in {first_entry}"
                    )
    assert not problems, f"roles/{role}:\n" + "\n".join(problems)
