"""Every role's meta/argument_specs.yml and defaults/main.yml describe the same variables.

Applies to every role under roles/ with a meta/argument_specs.yml (the internal roles/_common
too), so a role added later is checked without touching this file:
- every variable in defaults/main.yml has a spec entry in some entry point, with the same default;
- every spec option with a default appears in defaults/main.yml;
- every option has a type and a description; lists say the type of their elements;
- an option described in several entry points is described the same way (type, default);
- the roles speak one vocabulary: the naming block of docs/naming.md (concept -> variable per role,
  its type and shape, the other names it must not have) holds for every role it lists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(
    p.name for p in ROLES_DIR.iterdir() if p.is_dir() and (p / "meta" / "argument_specs.yml").is_file()
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


# --- One vocabulary (docs/naming.md) ------------------------------------------------------------
# The naming block of docs/naming.md lists each concept the roles share, the variable each role
# uses for it and its type. The tests below fail when a role names a listed concept otherwise.

REPO = ROLES_DIR.parent
NAMING_DOC = REPO / "docs" / "naming.md"
_BEGIN = "<!-- BEGIN generated from the naming block below -->"
_END = "<!-- END generated -->"


def _naming() -> dict:
    text = NAMING_DOC.read_text(encoding="utf-8")
    start = text.index("```yaml\n# naming-table\n") + len("```yaml\n")
    block = yaml.safe_load(text[start:text.index("```", start)])
    assert set(block) == {"implementations", "columns", "concepts"}, sorted(block)
    return block


def naming_variable(block: dict, concept: dict, role: str):
    """The variable `role` uses for `concept`, None when the role has none."""
    names = concept.get("names") or {}
    if role in names:
        return names[role]
    return f"{role}_{concept['concept']}" if role in block["implementations"] else None


NAMING = _naming() if NAMING_DOC.is_file() else {"implementations": [], "columns": [], "concepts": []}
CONCEPTS = [c["concept"] for c in NAMING["concepts"]]


def _concept(name: str) -> dict:
    return next(c for c in NAMING["concepts"] if c["concept"] == name)


def test_naming_block_is_well_formed():
    assert NAMING_DOC.is_file(), "docs/naming.md is missing"
    assert set(NAMING["implementations"]) <= set(NAMING["columns"]) <= set(ROLES)
    assert len(CONCEPTS) == len(set(CONCEPTS)), "a concept is listed twice"
    for concept in NAMING["concepts"]:
        assert set(concept) <= {"concept", "meaning", "spec", "names", "notes", "aliases"}, concept["concept"]
        assert concept.get("meaning") and concept.get("spec", {}).get("type"), concept["concept"]
        assert set(concept.get("names") or {}) <= set(NAMING["columns"]), concept["concept"]
        assert concept["concept"] not in (concept.get("aliases") or []), concept["concept"]


@pytest.mark.parametrize("concept", CONCEPTS)
def test_each_role_has_the_listed_variable_with_the_concepts_spec(concept):
    spec = _concept(concept)["spec"]
    problems = []
    for role in NAMING["columns"]:
        variable = naming_variable(NAMING, _concept(concept), role)
        if variable is None:
            continue
        occurrences = _options(role).get(variable)
        if not occurrences:
            problems.append(f"roles/{role}: {variable} (concept {concept}) is in no entry point of argument_specs.yml")
            continue
        for entry, option in occurrences:
            for key, want in spec.items():
                got = option.get(key, "(unset)" if key != "default" else "(no default)")
                if key == "default" and option.get("required"):
                    continue
                if got != want:
                    problems.append(f"roles/{role}: {variable} ({entry}) has {key} {got!r}, concept {concept} wants {want!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_variable_uses_an_alias_of_a_listed_concept(role):
    """No public `<role>_<alias>` nor internal `__<role>_<alias>` in any file of the role."""
    files = [p for p in (ROLES_DIR / role).rglob("*") if p.is_file() and p.suffix in {".yml", ".j2", ".md", ""}]
    problems = []
    for concept in NAMING["concepts"]:
        if naming_variable(NAMING, concept, role) is None and role not in NAMING["implementations"]:
            continue
        for alias in concept.get("aliases") or []:
            pattern = re.compile(r"(?<![A-Za-z0-9_])(?:__)?%s_%s(?![A-Za-z0-9_])" % (re.escape(role), re.escape(alias)))
            for path in files:
                for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                    if pattern.search(line):
                        problems.append(f"{path.relative_to(REPO)}:{number}: {pattern.search(line).group(0)} "
                                        f"is another name for {naming_variable(NAMING, concept, role) or concept['concept']}")
    assert not problems, "\n".join(problems)


def _cell(block: dict, concept: dict, role: str) -> str:
    variable = naming_variable(block, concept, role)
    note = (concept.get("notes") or {}).get(role)
    if variable is None:
        return "- (%s)" % note if note else "-"
    return "`%s`" % variable + (" (%s)" % note if note else "")


def render_naming_table(block: dict) -> str:
    lines = ["| concept | %s |" % " | ".join(block["columns"]), "|---|%s" % ("---|" * len(block["columns"]))]
    for concept in block["concepts"]:
        cells = [_cell(block, concept, role) for role in block["columns"]]
        lines.append("| `%s`: %s | %s |" % (concept["concept"], concept["meaning"], " | ".join(cells)))
    return "\n".join(lines) + "\n"


def test_naming_table_is_the_rendering_of_the_block():
    text = NAMING_DOC.read_text(encoding="utf-8")
    head, rest = text.split(_BEGIN + "\n", 1)
    _old_table, tail = rest.split(_END, 1)
    wanted = head + _BEGIN + "\n" + render_naming_table(NAMING) + _END + tail
    if os.environ.get("MXFED_UPDATE_DOCS") == "1":
        NAMING_DOC.write_text(wanted, encoding="utf-8")
    assert text == wanted, "docs/naming.md: the table is out of date; run with MXFED_UPDATE_DOCS=1"
