#!/usr/bin/env bash
# Run benchmarks/federation_throughput.yml against a running lab scenario (default: lab_workers,
# hosts wrk-main and wrk-peer).
# Usage: federation_throughput.sh [messages] [scenario] [host a] [host b] [concurrency]
set -euo pipefail
here=$(dirname "$0")
messages=${1:-200}
scenario=${2:-lab_workers}
if [ "$scenario" = lab_workers ]; then a=${3:-wrk-main} b=${4:-wrk-peer}; else a=${3:-} b=${4:-}; fi
exec bash "$here/lab_playbook.sh" "$here/federation_throughput.yml" "$scenario" -e bench_messages="$messages" \
  -e bench_concurrency="${5:-8}" ${a:+-e bench_a="$a"} ${b:+-e bench_b="$b"}
