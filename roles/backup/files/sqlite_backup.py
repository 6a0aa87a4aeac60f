# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Online backup of SQLite databases with SQLite's backup API (what `sqlite3 .backup` uses):
a consistent copy while the server keeps writing. Usage: sqlite_backup.py SRC DST [SRC DST ...].
A SRC that does not exist is skipped (printed as such). Prints one JSON object."""

import json
import os
import sqlite3
import sys


def main(argv):
    pairs = list(zip(argv[0::2], argv[1::2]))
    if not pairs or len(argv) % 2:
        print(json.dumps({"ok": False, "error": "usage: sqlite_backup.py SRC DST [SRC DST ...]"}))
        return 2
    done, missing = [], []
    for src, dst in pairs:
        if not os.path.isfile(src):
            missing.append(src)
            continue
        source = sqlite3.connect(src, timeout=60)
        target = sqlite3.connect(dst)
        with target:
            source.backup(target, pages=4096)
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        source.close()
        target.close()
        os.chmod(dst, 0o600)
        if check != "ok":
            print(json.dumps({"ok": False, "error": "integrity check of the copy of %s: %s" % (src, check)}))
            return 1
        done.append(src)
    print(json.dumps({"ok": True, "copied": done, "missing": missing}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
