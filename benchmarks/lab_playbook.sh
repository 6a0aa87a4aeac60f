#!/usr/bin/env bash
# Run a benchmark playbook against a running lab scenario with Molecule's inventory for it.
# Usage: lab_playbook.sh <playbook> <scenario> [ansible-playbook arguments...]
set -euo pipefail
playbook=$(realpath "$1")
scenario=$2
shift 2
cd "$(dirname "$0")/.."
inventory=$(find "$HOME/.ansible/tmp" -maxdepth 2 -path "*/molecule.*.$scenario/inventory" -printf '%T@ %p\n' 2>/dev/null |
  sort -rn | head -n1 | cut -d' ' -f2-)
[ -n "$inventory" ] || {
  echo "no running '$scenario' lab found: run 'MXFED_LAB_SCENARIO=$scenario bash scripts/lab' first" >&2
  exit 1
}
# shellcheck disable=SC1091
. .venv/bin/activate
export ANSIBLE_ROLES_PATH=$PWD/extensions/molecule/shared/roles
export MOLECULE_EPHEMERAL_DIRECTORY=${inventory%/inventory}
export MOLECULE_PROJECT_DIRECTORY=$PWD
mkdir -p lab-report/benchmark
exec ansible-playbook -i "$inventory" "$playbook" -e lab_report_dir="$PWD/lab-report/benchmark" "$@"
