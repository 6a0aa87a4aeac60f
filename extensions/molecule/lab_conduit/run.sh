#!/usr/bin/env bash
# The full federation proof with a REAL Conduit: Synapse on alpha.test, Conduit on beta.test, both
# deployed by mxfed.federation.homeserver in the shared lab; invite, join, messages both ways.
# No registry reachable from CI ships Conduit, so the binary is supplied by whoever runs this:
#   MXFED_CONDUIT_BINARY=/path/to/conduit extensions/molecule/lab_conduit/run.sh [molecule test options]
# Without it the scenario is skipped (exit 77, the usual "skipped" code, which scripts/test
# reports as skipped) with a message saying what to supply.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"

if [ -z "${MXFED_CONDUIT_BINARY:-}" ]; then
  echo "lab_conduit skipped: set MXFED_CONDUIT_BINARY to the path of a Conduit binary (the" \
       "v0.10.12 x86_64-unknown-linux-musl release artifact from https://gitlab.com/famedly/conduit," \
       "or one built from its source: extensions/molecule/lab_conduit/README.md) and run" \
       "extensions/molecule/lab_conduit/run.sh again."
  exit 77
fi

binary="$(realpath -- "$MXFED_CONDUIT_BINARY" 2>/dev/null || true)"
if [ -z "$binary" ] || [ ! -f "$binary" ] || [ ! -r "$binary" ]; then
  echo "lab_conduit: MXFED_CONDUIT_BINARY=$MXFED_CONDUIT_BINARY is not a readable file" >&2
  exit 2
fi
if [ "$(head -c 4 "$binary" | od -An -c | tr -d ' ')" != '177ELF' ]; then
  echo "lab_conduit: $binary is not an ELF executable (expected Conduit's static binary)" >&2
  exit 2
fi

export MXFED_CONDUIT_BINARY="$binary"
export PATH="$repo/.venv/bin:$PATH"
cd "$repo"
exec molecule test -s lab_conduit "$@"
