#!/usr/bin/env bash
# Run benchmarks/federation_latency.yml against a running lab scenario (default: lab_federation).
# Usage: federation_latency.sh [messages] [scenario] [room version]
# (the dendrite lab needs room version 10: Dendrite 0.13.8 cannot join Synapse's default v12 rooms).
set -euo pipefail
here=$(dirname "$0")
messages=${1:-50}
scenario=${2:-lab_federation}
room_version=${3:-}
exec bash "$here/lab_playbook.sh" "$here/federation_latency.yml" "$scenario" -e bench_messages="$messages" \
  ${room_version:+-e exchange_room_version="$room_version"}
