# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print what a lab run proved, one line per fact, from the files it left in lab-report/<scenario>/.

Usage: lab_summary.py REPORT_DIR        (scripts/lab runs it at the end; stdlib only)

Reads what the scenario's verify writes (lab.json, check-<name>.json/.txt, exchange-<label>.json,
restarts.json, gate.json, signing-key.json) and what scripts/lab writes (logs/steps.tsv and each
step's log). A missing or malformed file is one line saying so, never a traceback. Exit status 0
when every fact the summary looks for is present and good, 1 otherwise.
"""

import json
import os
import re
import sys

OK, FAIL, MISSING = "ok", "FAIL", "??"
STEPS = ("create", "prepare", "converge", "verify")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class Unreadable(Exception):
    """A report file that is missing or not what the lab writes; the message says which."""


def load_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise Unreadable("%s: missing" % os.path.basename(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable("%s: unreadable (%s)" % (os.path.basename(path), exc)) from None
    except ValueError as exc:
        raise Unreadable("%s: not valid JSON (%s)" % (os.path.basename(path), exc)) from None


def load_dict(path):
    data = load_json(path)
    if not isinstance(data, dict):
        raise Unreadable("%s: expected a JSON object, found %s" % (os.path.basename(path), type(data).__name__))
    return data


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        raise Unreadable("%s: missing" % os.path.basename(path)) from None
    except OSError as exc:
        raise Unreadable("%s: unreadable (%s)" % (os.path.basename(path), exc)) from None


def duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    return "%d min %d s" % divmod(seconds, 60)


def user(mxid):
    """@alice:alpha.test -> alice@alpha.test, as people write it."""
    if isinstance(mxid, str) and mxid.startswith("@") and ":" in mxid:
        local, server = mxid[1:].split(":", 1)
        return "%s@%s" % (local, server)
    return str(mxid)


def ms(value):
    return "%d ms" % round(value) if isinstance(value, (int, float)) else "? ms"


# ---------------------------------------------------------------- facts

def route(check):
    """well-known -> matrix.alpha.test:8448 -> 172.30.20.11 (from the module's result)."""
    parts = []
    if (check.get("well_known") or {}).get("result") == "delegated":
        parts.append("well-known")
    parts.extend("SRV " + srv["name"] for srv in check.get("srv") or [] if srv.get("used"))
    addresses = check.get("addresses") or []
    targets = check.get("targets") or []
    if not targets:
        return " -> ".join(parts + ["no target"])
    # The first target with a working address is where peers get through.
    for target in targets:
        good = [a["address"] for a in addresses
                if a.get("ok") and a.get("host") == target.get("host") and a.get("port") == target.get("port")]
        if good:
            break
    else:
        target = targets[0]
    parts.append("%s:%s" % (target.get("host"), target.get("port")))
    parts.append(", ".join(good) if good else "no working address")
    return " -> ".join(parts)


def check_fact(directory, name):
    """(status, name, text) for one server's delegation check."""
    path = os.path.join(directory, "check-%s.json" % name)
    try:
        check = load_dict(path)
    except Unreadable as exc:
        # The text report is written first, also when the module failed: say what it says.
        try:
            first = read_text(os.path.join(directory, "check-%s.txt" % name)).strip().splitlines()
        except Unreadable:
            first = []
        return MISSING, name, "%s%s" % (exc, ("; check-%s.txt: %s" % (name, first[0])) if first else "")
    if "federation_ok" not in check:
        return FAIL, name, "check failed to run: %s" % check.get("msg", "no verdict in check-%s.json" % name)
    reach = check.get("reachable_from") or {}
    order = unique(list(check.get("implementations") or []) + ["synapse", "dendrite", "conduit"] + sorted(reach))
    yes = [impl for impl in order if reach.get(impl) is True]
    no = [impl for impl in order if impl in reach and reach[impl] is not True]
    text = "%s  reachable_from %s" % (route(check), ", ".join(yes) or "none")
    if no:
        text += "; NOT from " + ", ".join(no)
    warnings = check.get("warning_findings") or []
    if warnings:
        text += "; warnings: " + ", ".join(sorted({w.get("code", "?") for w in warnings}))
    if not check["federation_ok"]:
        text += "; errors: " + ", ".join(e.get("code", "?") for e in check.get("errors") or [])
    return (OK if check["federation_ok"] else FAIL), name, text


def exchange_facts(path):
    """One line per direction of a conversation."""
    label = os.path.basename(path)[len("exchange-"):-len(".json")]
    try:
        data = load_dict(path)
    except Unreadable as exc:
        return [(MISSING, label, str(exc))]
    if not data.get("ok"):
        return [(FAIL, label, "exchange failed: %s" % data.get("error", "no error given"))]
    if "a_to_b" not in data:
        return []  # send-only or history run: part of another fact (restarts)
    rows = []
    for key, sender, receiver in (("a_to_b", "a_user", "b_user"), ("b_to_a", "b_user", "a_user")):
        leg = data.get(key)
        if not isinstance(leg, dict):
            rows.append((FAIL, label, "%s: no result" % key))
            continue
        rows.append((OK, label, "%s -> %s: %s messages, p50 %s, p95 %s" % (
            user(data.get(sender)), user(data.get(receiver)), leg.get("count", "?"),
            ms(leg.get("p50_ms")), ms(leg.get("p95_ms")))))
    return rows


def restart_facts(directory):
    """What was restarted, and that every message of the conversation around it arrived."""
    data = load_dict(os.path.join(directory, "restarts.json"))
    history = data.get("history")
    expected = data.get("expected")
    steps = data.get("steps") or []
    rows = [(OK if steps else MISSING, "restarts", ", ".join(steps) or "restarts.json names no restarts")]
    if not isinstance(history, dict) or not history or not isinstance(expected, int):
        rows.append((FAIL, "restarts", "restarts.json holds no per-server history and expected count"))
        return rows
    held, good = [], bool(data.get("ok"))
    for url in sorted(history):
        entry = history[url]
        found = entry.get("expected", 0) - len(entry.get("missing") or [])
        good = good and found == expected and entry.get("expected") == expected
        after = entry.get("complete_after_s")
        held.append("%s %s/%s%s" % (url.replace("https://", ""), found, expected,
                                    (" after %s s" % after) if after is not None else ""))
    rows.append(((OK if good else FAIL), "restarts", "%s messages in both servers' room history (%s), %s sent while a server was down" % (
        expected, ", ".join(held), data.get("sent_while_down", "?"))))
    return rows


def gate_fact(directory):
    data = load_dict(os.path.join(directory, "gate.json"))
    good = bool(data.get("failed_while_stopped")) and bool(data.get("passed_again"))
    # The gate's message is the check's summary: "- error <code> ..." lines name the cause.
    codes = unique(re.findall(r"^- error (\w+)", str(data.get("message", "")), re.M))
    return (OK if good else FAIL), "gate", "%s stopped on %s: the deploy gate failed (%s), %s" % (
        data.get("stopped", "?"), data.get("host", "?"), ", ".join(codes) or "no error named",
        "and passed once it was back" if data.get("passed_again") else "and did not pass again")


def key_fact(directory):
    data = load_dict(os.path.join(directory, "signing-key.json"))
    versions = data.get("versions") or []
    good = (bool(data.get("existed_before")) and data.get("unchanged_after_upgrade") is True
            and data.get("unchanged_after_way_back") is True and versions == data.get("expected_versions"))
    key_id = data.get("key_id", "?")
    text = "%s in %s:%s unchanged across Synapse %s" % (
        key_id, data.get("host", "?"), data.get("path", "?"), " -> ".join(map(str, versions)) or "?")
    if not good:
        text += " (expected versions %s; unchanged after upgrade %s, after the way back %s)" % (
            " -> ".join(map(str, data.get("expected_versions") or [])),
            data.get("unchanged_after_upgrade"), data.get("unchanged_after_way_back"))
    # The key's id is also what the federation API served when the check ran.
    server = os.path.basename(str(data.get("path", ""))).split(".signing.key")[0]
    try:
        served = (load_dict(os.path.join(directory, "check-%s.json" % server)).get("keys") or {}).get("verify_keys") or {}
        if served:
            if key_id in served:
                text += ", the key %s serves" % server
            else:
                good = False
                text += "; but %s served %s" % (server, ", ".join(sorted(served)))
    except Unreadable:
        pass
    return (OK if good else FAIL), "signing key", text


def steps_facts(directory):
    """How the run went: step times and the converge's changes (a re-run must show changed=0)."""
    logs = os.path.join(directory, "logs")
    rows = []
    try:
        lines = read_text(os.path.join(logs, "steps.tsv")).splitlines()
    except Unreadable as exc:
        return [(MISSING, "run", "logs/%s (written by scripts/lab)" % exc)]
    times, total, failed = [], None, None
    for line in lines:
        fields = line.split("\t")
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2].lstrip("-").isdigit():
            rows.append((MISSING, "run", "logs/steps.tsv: unexpected line %r" % line))
            continue
        step, seconds, rc = fields[0], int(fields[1]), int(fields[2])
        if step == "total":
            total = seconds
            continue
        times.append("%s %s" % (step, duration(seconds)))
        if rc and failed is None:
            failed = (step, rc)
    if failed:
        rows.append((FAIL, "run", "molecule %s failed (exit %s): see logs/%s.log" % (failed[0], failed[1], failed[0])))
    text = "wall time %s (%s)" % (duration(total) if total is not None else "?", ", ".join(times))
    rows.append(((FAIL if failed else OK), "run", text))
    try:
        reused = "Skipping, instances already created." in read_text(os.path.join(logs, "create.log"))
        rows.append((OK, "create", "the running lab's containers, reused" if reused else "new containers"))
    except Unreadable:
        pass
    if failed and STEPS.index(failed[0]) < STEPS.index("converge"):
        return rows
    try:
        recap = converge_changes(read_text(os.path.join(logs, "converge.log")))
    except Unreadable as exc:
        rows.append((MISSING, "converge", "logs/%s" % exc))
        return rows
    if not recap:
        rows.append((MISSING, "converge", "logs/converge.log has no PLAY RECAP"))
        return rows
    changed = sum(counts[0] for counts in recap.values())
    bad = sum(counts[1] for counts in recap.values())
    hosts = ", ".join("%s %d" % (host, recap[host][0]) for host in sorted(recap))
    rows.append(((FAIL if bad else OK), "converge", "changed=%d (%s)%s" % (
        changed, hosts, "; failed/unreachable on %d" % bad if bad else "")))
    return rows


def converge_changes(log):
    """{host: (changed, failed + unreachable)} summed over every PLAY RECAP in a log."""
    recap, in_recap = {}, False
    for line in log.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = RECAP.match(line) if in_recap else None
        if match:
            host = match.group(1)
            changed, bad = recap.get(host, (0, 0))
            recap[host] = (changed + int(match.group(3)), bad + int(match.group(4)) + int(match.group(5)))
        elif in_recap and line.strip() and not line.startswith(" "):
            in_recap = bool(RECAP.match(line))
    return recap


# ---------------------------------------------------------------- the table

def facts(directory):
    """[(section, status, name, text)] - everything the summary says, in order."""
    rows = []
    try:
        lab = load_dict(os.path.join(directory, "lab.json"))
    except Unreadable as exc:
        lab = {}
        rows.append(("lab", MISSING, "lab", str(exc)))
    names = [str(n) for n in lab.get("server_names")] if isinstance(lab.get("server_names"), list) else []
    found = sorted(f[len("check-"):-len(".json")] for f in listdir(directory)
                   if f.startswith("check-") and f.endswith(".json"))
    found += sorted(f[len("check-"):-len(".txt")] for f in listdir(directory)
                    if f.startswith("check-") and f.endswith(".txt"))
    for name in unique(list(names) + found):
        rows.append(("delegation",) + guarded(check_fact, "check-%s.json" % name, name, directory, name))
    if not names and not found:
        rows.append(("delegation", MISSING, "check", "no check-<name>.json in %s" % directory))
    exchanges = sorted(f for f in listdir(directory) if f.startswith("exchange-") and f.endswith(".json"))
    if os.path.exists(os.path.join(directory, "restarts.json")):
        # The conversation around the restarts is one fact, told from restarts.json.
        exchanges = [f for f in exchanges if not f.startswith("exchange-restart-")]
    for name in exchanges:
        path = os.path.join(directory, name)
        try:
            for row in exchange_facts(path):
                rows.append(("messages",) + row)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            rows.append(("messages", FAIL, name, "unexpected content (%s: %s)" % (type(exc).__name__, exc)))
    if not any(row[0] == "messages" for row in rows):
        rows.append(("messages", MISSING, "exchange", "no exchange-<label>.json with messages both ways"))
    restarts = guarded(restart_facts, "restarts.json", "restarts", directory)
    for row in (restarts if isinstance(restarts, list) else [restarts]):
        rows.append(("survived",) + row)
    rows.append(("survived",) + guarded(gate_fact, "gate.json", "gate", directory))
    rows.append(("survived",) + guarded(key_fact, "signing-key.json", "signing key", directory))
    for row in steps_facts(directory):
        rows.append(("run",) + row)
    return rows, lab


def guarded(fact, file_name, name, *args):
    try:
        return fact(*args)
    except Unreadable as exc:
        return MISSING, name, str(exc)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        return FAIL, name, "%s: unexpected content (%s: %s)" % (file_name, type(exc).__name__, exc)


def listdir(directory):
    try:
        return os.listdir(directory)
    except OSError:
        return []


def unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def shown(path):
    """A path as the user can paste it from the checkout: relative when under the current directory."""
    path = str(path)
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def render(directory):
    directory = os.path.abspath(directory)
    rows, lab = facts(directory)
    names = [str(n) for n in lab.get("server_names")] if isinstance(lab.get("server_names"), list) else []
    where = shown(directory)
    scenario = lab.get("scenario") or os.path.basename(directory)
    out = ["", "======== lab summary: %s (%s)" % (scenario, where)]
    width = max(len(str(row[2])) for row in rows)
    section = None
    for sect, status, name, text in rows:
        if sect != section:
            out.append(sect)
            section = sect
        out.append("  %-*s  %-4s  %s" % (width, name, status, text))
    containers = lab.get("containers") if isinstance(lab.get("containers"), list) else []
    homeservers = [c for c in containers if not re.search(r"-(dns|acme|client)$", str(c))]
    out.append("files")
    out.append("  full logs       %s/logs/{%s}.log" % (where, ",".join(STEPS)))
    out.append("  JSON            %s/*.json (lab.json, check-<name>.json, exchange-<label>.json, ...)" % where)
    out.append("look around")
    if containers:
        out.append("  a shell         docker exec -it %s bash   (containers: %s)" % (
            (homeservers or containers)[0], " ".join(map(str, containers))))
    if lab.get("dns"):
        out.append("  lab DNS         %s   (dig @%s %s)" % (lab["dns"], lab["dns"], (names or ["<server name>"])[0]))
    if lab.get("ca_path"):
        out.append("  lab CA          %s" % shown(lab["ca_path"]))
    if lab.get("verify_command"):
        out.append("  verify.yml      %s" % lab["verify_command"])
    else:
        out.append("  verify.yml      (no verify_command in lab.json)")
    out.append("remove            bash scripts/lab down")
    bad = [row for row in rows if row[1] != OK]
    out.append("%d facts proven, %d not%s" % (
        len(rows) - len(bad), len(bad), " (marked %s or %s above)" % (FAIL, MISSING) if bad else ""))
    return "\n".join(out), not bad


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: lab_summary.py REPORT_DIR\n")
        return 2
    if not os.path.isdir(argv[1]):
        print("lab summary: no report directory %s (did the lab's verify step run?)" % argv[1])
        return 1
    text, good = render(argv[1])
    print(text)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
