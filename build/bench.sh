#!/usr/bin/env bash
# Runs BenchmarkDotNet benchmarks matching a filter and writes their markdown reports to benchmarks/results/.
# Usage: build/bench.sh FILTER [BenchmarkDotNet arguments]   e.g. build/bench.sh '*RoundTrip*' --job short
# Redis benchmarks use REDIS_URL when set, else start redis-server from PATH on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:?usage: build/bench.sh FILTER [BenchmarkDotNet arguments]}"
shift
if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  echo "bench.sh: redis-server is not on PATH and REDIS_URL is not set; Redis benchmarks will fail." >&2
fi
artifacts=artifacts/bench
rm -rf "$artifacts/results"
dotnet run -c Release --project benchmarks/Lilith.Benchmarks -- \
  --filter "$filter" --artifacts "$artifacts" --exporters github "$@"
mkdir -p benchmarks/results
for report in "$artifacts"/results/*-report-github.md; do
  [ -f "$report" ] || continue
  name=$(basename "$report" -report-github.md)
  { echo "<!-- build/bench.sh '$filter' $* on $(nproc) cores, $(date -u +%Y-%m-%d) -->"; cat "$report"; } > "benchmarks/results/${name##*.}.md"
  echo "bench.sh: wrote benchmarks/results/${name##*.}.md"
done
