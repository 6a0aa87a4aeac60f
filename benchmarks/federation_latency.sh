#!/usr/bin/env bash
# Run benchmarks/federation_latency.yml against a running lab scenario (default: federation),
# with Molecule's inventory for it. Usage: federation_latency.sh [messages] [scenario] [room version]
# (the dendrite lab needs room version 10: Dendrite 0.13.8 cannot join Synapse's default v12 rooms).
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-50}
scenario=${2:-federation}
room_version=${3:-}
inventory=$(find "$HOME/.ansible/tmp" -maxdepth 2 -path "*/molecule.*.$scenario/inventory" -printf '%T@ %p\n' 2>/dev/null |
  sort -rn | head -n1 | cut -d' ' -f2-)
[ -n "$inventory" ] || { echo "no running '$scenario' lab found: run 'bash scripts/lab' first" >&2; exit 1; }
# shellcheck disable=SC1091
. .venv/bin/activate
export ANSIBLE_ROLES_PATH=$PWD/extensions/molecule/shared/roles
export MOLECULE_EPHEMERAL_DIRECTORY=${inventory%/inventory}
export MOLECULE_PROJECT_DIRECTORY=$PWD
exec ansible-playbook -i "$inventory" benchmarks/federation_latency.yml -e bench_messages="$messages" \
  -e lab_report_dir="$PWD/lab-report/benchmark" ${room_version:+-e exchange_room_version="$room_version"}
