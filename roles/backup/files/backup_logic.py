# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The backup role's decisions, made on the controller by plugins/module_utils/_backup.py.

Roles inside a collection cannot carry plugins, so the role runs this file with the controller's
Python: one JSON document on stdin, one on stdout. It loads _backup.py (pure Python, no Ansible
imports) from the collection this file belongs to.
  backup:  {server_name, implementation, epoch, encrypted, key, database, files, hostname}
           -> {name, manifest}
  restore: {manifest, server_name, implementation, key, force, host, marker}
           -> {problems, conflict, already, marker}
key (raw, as read on the host): {format: synapse|dendrite|served, exists, header, sha256,
served_key_id, served_public_key}. A failure prints {"error": ...} and exits 1.
"""

import datetime
import importlib.util
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location(
    "_mxfed_backup", os.path.join(_HERE, "..", "..", "..", "plugins", "module_utils", "_backup.py"))
_backup = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_backup)


def identity(raw):
    """The identity of the key the host holds, or None when it holds none."""
    if not raw or not raw.get("exists"):
        return None
    if raw.get("format") == "served":
        return _backup.key_identity(raw["served_key_id"], None, raw.get("served_public_key"))
    return _backup.key_identity(_backup.key_id_from_header(raw.get("header", ""), raw["format"]), raw.get("sha256"))


def backup(doc):
    moment = datetime.datetime.fromtimestamp(int(doc["epoch"]), tz=datetime.timezone.utc)
    key = identity(doc["key"])
    if key is None:
        raise _backup.BackupError("the host holds no signing key")
    name = _backup.archive_name(doc["server_name"], doc["implementation"], moment, bool(doc.get("encrypted")))
    manifest = _backup.build_manifest(doc["server_name"], doc["implementation"], moment, key, doc["database"],
                                      doc["files"], hostname=doc.get("hostname", ""))
    return {"name": name, "manifest": manifest}


def restore(doc):
    manifest = doc.get("manifest")
    problems = _backup.manifest_problems(manifest, doc["server_name"], doc["implementation"])
    if problems:
        return {"problems": problems, "conflict": "", "already": False, "marker": ""}
    existing = identity(doc["key"])
    if existing is None and doc["key"].get("format") == "served" and doc["key"].get("data_present"):
        # Conduit with a database whose key cannot be read (not running): nothing to compare.
        existing = {"key_id": "unknown (Conduit did not answer on its listener)", "sha256": None}
    conflict = _backup.key_conflict(manifest["key"], existing, force=bool(doc.get("force")), host=doc.get("host", "the host"))
    marker = _backup.restore_marker(manifest)
    return {"problems": [], "conflict": conflict, "already": doc.get("marker") == marker, "marker": marker}


def main():
    try:
        command = sys.argv[1]
        doc = json.load(sys.stdin)
        result = {"backup": backup, "restore": restore}[command](doc)
    except (_backup.BackupError, KeyError, ValueError, IndexError) as exc:
        print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
