# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Every role README's variables table says what the role's meta/argument_specs.yml says.

Applies to every role under roles/ that has meta/argument_specs.yml, so a role added later is
checked without touching this file:
- every option of every entry point is listed in the README, with the same default;
- every variable the README lists is an option of the role (of the entry point, see below).

How a README writes its variables (the convention this test enforces):
- A variables table is a Markdown table whose header's first cell is ``variable``, or any table
  whose first column holds a backquoted name with the role's prefix (``<role>_``). It has a
  ``default`` column.
- One variable per row: the first cell is exactly one backquoted name (no ``a`` / ``b`` rows).
- The default cell is either the word ``required`` (the option is ``required: true``), or one
  backquoted YAML value, optionally followed by a remark in parentheses:
  ``""`` (= the server name). The value is parsed with yaml.safe_load and compared, types
  included (``true`` is not ``1``), with the spec's default:
  - empty values are written ``""``, ``[]``, ``{}``; an option without a default is ``null``;
  - a Jinja default is written as in the spec, ``{{ caddy_matrix_backend }}``; when it starts
    with ``{{`` (which YAML would read as a mapping) it is compared as text;
  - long defaults are written in full, in YAML flow style (``[{server_name: matrix.org, ...}]``
    is not accepted): a shortened value cannot be checked, and a reader copying it gets a
    different value.
- Under a heading that names an entry point in backquotes (``### `site` ``), a table lists that
  entry point's options; it must list all of them. Tables under other headings may list options
  of any entry point.
"""

from __future__ import absolute_import, division, print_function

import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(
    p.name for p in ROLES_DIR.iterdir() if (p / "meta" / "argument_specs.yml").is_file()
) if ROLES_DIR.is_dir() else []

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_NAME_CELL = re.compile(r"^`([A-Za-z_][A-Za-z0-9_]*)`$")
_DEFAULT_CELL = re.compile(r"^`(?P<value>[^`]*)`(?:\s+\((?P<remark>.*)\))?$")
_HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")


def _cells(line):
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in _CELL_SPLIT.split(inner)]


def parse_default(cell):
    """A README default cell -> ('required', None) or ('value', parsed). Raises ValueError."""
    if cell == "required":
        return "required", None
    match = _DEFAULT_CELL.match(cell)
    if not match:
        raise ValueError("must be `required` or one backquoted YAML value with an optional (remark)")
    raw = match.group("value")
    if raw.lstrip().startswith("{{"):
        return "value", raw
    try:
        return "value", yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError("`%s` is not YAML: %s" % (raw, str(exc).splitlines()[0]))


def same(a, b):
    """Equal values of the same types, recursively (True != 1, "8008" != 8008)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def variable_rows(text, prefix, entry_points):
    """Rows of the README's variables tables: [(line number, scope, name, default cell)], problems.

    scope is the entry point named by the nearest heading above the table, or None.
    """
    rows, problems = [], []
    lines = text.splitlines()
    scope = None
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            named = re.findall(r"`([^`]+)`", heading.group(2))
            scope = named[0] if len(named) == 1 and named[0] in entry_points else None
        if in_fence or not line.lstrip().startswith("|"):
            i += 1
            continue
        start = i
        table = []
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            table.append((i + 1, _cells(lines[i])))
            i += 1
        header = [cell.lower() for cell in table[0][1]]
        body = table[2:]
        is_variables = header[0] == "variable" or any(
            cells and re.match(r"^`%s[A-Za-z0-9_]*`" % re.escape(prefix), cells[0]) for dummy, cells in body
        )
        if not is_variables:
            continue
        if "default" not in header:
            problems.append("line %d: a variables table without a 'default' column" % (start + 1))
            continue
        column = header.index("default")
        for number, cells in body:
            name = _NAME_CELL.match(cells[0])
            if not name:
                problems.append("line %d: %r: the first cell must be one backquoted variable name" % (number, cells[0]))
                continue
            if len(cells) <= column:
                problems.append("line %d: %s: no default cell" % (number, name.group(1)))
                continue
            rows.append((number, scope, name.group(1), cells[column]))
    return rows, problems


def check_readme(text, prefix, entry_points):
    """Problems of one README against {entry point: {option: spec}}; [] when in sync."""
    rows, problems = variable_rows(text, prefix, entry_points)
    listed = {}
    for number, scope, name, cell in rows:
        candidates = [scope] if scope else [e for e, options in entry_points.items() if name in options]
        where = "entry point %s" % scope if scope else "any entry point"
        if not candidates or name not in entry_points[candidates[0]]:
            problems.append("line %d: %s is listed in the README but is not an option of %s in meta/argument_specs.yml"
                            % (number, name, where))
            continue
        if (scope, name) in listed:
            problems.append("line %d: %s is listed twice (also line %d)" % (number, name, listed[(scope, name)]))
        listed[(scope, name)] = number
        entry = candidates[0]
        option = entry_points[entry][name]
        try:
            kind, value = parse_default(cell)
        except ValueError as exc:
            problems.append("line %d: %s: default cell %r %s" % (number, name, cell, exc))
            continue
        if option.get("required"):
            if kind != "required":
                problems.append("line %d: %s: README default %r, but the option is required (entry point %s)"
                                % (number, name, cell, entry))
        elif kind == "required":
            problems.append("line %d: %s: README says required, argument_specs default is %r (entry point %s)"
                            % (number, name, option.get("default"), entry))
        elif not same(value, option.get("default")):
            problems.append("line %d: %s: README default %s (read as %r) != argument_specs default %r (entry point %s)"
                            % (number, name, cell, value, option.get("default"), entry))
    for entry, options in entry_points.items():
        for name in options:
            if (entry, name) not in listed and (None, name) not in listed:
                problems.append("%s (entry point %s): in meta/argument_specs.yml but in no variables table of the README"
                                % (name, entry))
    return problems


def _entry_points(role):
    with (ROLES_DIR / role / "meta" / "argument_specs.yml").open(encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    return {entry: dict((spec or {}).get("options") or {}) for entry, spec in specs.items()}


def test_roles_found():
    assert ROLES, "no role with meta/argument_specs.yml under %s" % ROLES_DIR


@pytest.mark.parametrize("role", ROLES)
def test_readme_variables_match_argument_specs(role):
    readme = ROLES_DIR / role / "README.md"
    assert readme.is_file(), "roles/%s: README.md is missing" % role
    problems = check_readme(readme.read_text(encoding="utf-8"), role + "_", _entry_points(role))
    assert not problems, "roles/%s/README.md:\n" % role + "\n".join(problems)


# The checker itself, on small READMEs: what must pass and what must be caught.
_SPECS = {
    "main": {
        "x_name": {"type": "str", "required": True},
        "x_port": {"type": "int", "default": 8008},
        "x_flag": {"type": "bool", "default": True},
        "x_list": {"type": "list", "default": []},
        "x_url": {"type": "str", "default": "https://{{ x_name }}/"},
        "x_backend": {"type": "str", "default": "{{ x_url }}"},
        "x_servers": {"type": "list", "default": [{"server_name": "matrix.org", "keys": [{"key_id": "ed25519:auto"}]}]},
    },
    "site": {"x_site": {"type": "str", "default": ""}},
}
_GOOD_ROWS = [
    "| `x_name` | required | the name |",
    "| `x_port` | `8008` | port |",
    "| `x_flag` | `true` | a flag |",
    "| `x_list` | `[]` (= none) | a list |",
    "| `x_url` | `https://{{ x_name }}/` | URL |",
    "| `x_backend` | `{{ x_url }}` | backend |",
    '| `x_servers` | `[{server_name: matrix.org, keys: [{key_id: "ed25519:auto"}]}]` | notaries |',
]


def _readme(rows, site_rows=("| `x_site` | `\"\"` | the site |",)):
    return "\n".join(["# x", "", "| variable | default | description |", "|---|---|---|"] + list(rows)
                     + ["", "### `site`", "", "| variable | default | description |", "|---|---|---|"]
                     + list(site_rows) + [""])


def test_checker_accepts_a_readme_in_sync():
    assert check_readme(_readme(_GOOD_ROWS), "x_", _SPECS) == []


def _replace(old, new):
    return [new if row == old else row for row in _GOOD_ROWS]


@pytest.mark.parametrize("rows, site_rows, expected", [
    (_replace("| `x_port` | `8008` | port |", "| `x_prot` | `8008` | port |"), None,
     ["x_prot is listed in the README but is not an option", "x_port (entry point main): in meta/argument_specs.yml but in no"]),
    (_replace("| `x_port` | `8008` | port |", "| `x_port` | `8080` | port |"), None,
     ["x_port: README default `8080` (read as 8080) != argument_specs default 8008"]),
    (_replace("| `x_port` | `8008` | port |", '| `x_port` | `"8008"` | port |'), None,
     ["x_port: README default"]),
    (_replace("| `x_flag` | `true` | a flag |", "| `x_flag` | `1` | a flag |"), None,
     ["x_flag: README default `1`"]),
    (_replace("| `x_name` | required | the name |", '| `x_name` | `""` | the name |'), None,
     ["x_name: README default '`\"\"`', but the option is required"]),
    (_replace("| `x_list` | `[]` (= none) | a list |", "| `x_list` | required | a list |"), None,
     ["x_list: README says required"]),
    (_replace("| `x_list` | `[]` (= none) | a list |", "| `x_list` | (none) | a list |"), None,
     ["x_list: default cell '(none)' must be"]),
    (_replace("| `x_url` | `https://{{ x_name }}/` | URL |", "| `x_url` | `https://{{ x_host }}/` | URL |"), None,
     ["x_url: README default"]),
    (_replace('| `x_servers` | `[{server_name: matrix.org, keys: [{key_id: "ed25519:auto"}]}]` | notaries |',
              "| `x_servers` | `[{server_name: matrix.org}]` | notaries |"), None,
     ["x_servers: README default"]),
    (_replace("| `x_port` | `8008` | port |", "| `x_port` / `x_flag` | `8008` | port |"), None,
     ["the first cell must be one backquoted variable name", "x_port (entry point main): in meta/argument_specs.yml"]),
    (_GOOD_ROWS + ["| `x_port` | `8008` | again |"], None, ["x_port is listed twice"]),
    (_GOOD_ROWS, [], ["x_site (entry point site): in meta/argument_specs.yml but in no variables table"]),
    (_GOOD_ROWS, ["| `x_site` | `\"\"` | site |", "| `x_port` | `8008` | port |"],
     ["x_port is listed in the README but is not an option of entry point site"]),
])
def test_checker_catches_drift(rows, site_rows, expected):
    text = _readme(rows) if site_rows is None else _readme(rows, site_rows)
    problems = check_readme(text, "x_", _SPECS)
    for fragment in expected:
        assert any(fragment in problem for problem in problems), "%r not in %r" % (fragment, problems)
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize("cell, expected", [
    ('`""`', ("value", "")),
    ("`''`", ("value", "")),
    ("`[]`", ("value", [])),
    ("`{}`", ("value", {})),
    ("`null`", ("value", None)),
    ("`0.10.12`", ("value", "0.10.12")),
    ("`127.0.0.1:8008`", ("value", "127.0.0.1:8008")),
    ("`{{ a }}`", ("value", "{{ a }}")),
    ("`/var/www/{{ a }}`", ("value", "/var/www/{{ a }}")),
    ("`[80, 443]` (clients and servers)", ("value", [80, 443])),
    ("required", ("required", None)),
])
def test_parse_default(cell, expected):
    assert parse_default(cell) == expected


@pytest.mark.parametrize("cell", ["**required**", "(required)", "as in `main`", "`a` / `b`", "`[a`"])
def test_parse_default_refuses(cell):
    with pytest.raises(ValueError):
        parse_default(cell)
