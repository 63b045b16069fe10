#!/usr/bin/env bash
# Runs test projects many times in a row to find flaky tests, optionally beside a load of its own, and prints each
# failing test with how often it failed.
#
#   build/stress.sh [-n RUNS] [--load] [--filter EXPR] [--cluster] [PROJECT ...]
#
#   -n RUNS       runs of each project (default 20)
#   --load        while the runs go on, keep one core busy and drive a Redis server of its own with redis-benchmark
#                 (loopback only; the load stops with the script, and by itself after --load-minutes)
#   --load-minutes M  longest life of the load (default 120)
#   --filter EXPR passed to dotnet test --filter (e.g. "FullyQualifiedName~CacheRace")
#   --no-build    use the Release build already made (by build/test.sh or an earlier run)
#   --cluster     run on the 3-master Redis Cluster (LILITH_TEST_TOPOLOGY=cluster, tests that start servers of their
#                 own left out), as build/test.sh's second pass does
#   PROJECT       test project folders or names (Lilith.ServiceDiscovery.Tests or tests/Lilith.ServiceDiscovery.Tests);
#                 default: every test project
#
# Builds once (Release), then runs each project RUNS times with --no-build; TRX results go to artifacts/stress/.
# Ends with a table (project, runs, runs with a failure) and every failing test with its count, then the line
# "N passed, N failed" over all runs; exits 1 when any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

runs=20
load=0
load_minutes=120
filter=""
cluster=0
build=1
projects=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    --load) load=1; shift ;;
    --load-minutes) load_minutes=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --cluster) cluster=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "stress.sh: unknown option $1" >&2; exit 2 ;;
    *) projects+=("$1"); shift ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then echo "stress.sh: -n takes a positive whole number, not '$runs'" >&2; exit 2; fi
if [ ${#projects[@]} -eq 0 ]; then
  for dir in tests/Lilith.*.Tests; do projects+=("$dir"); done
fi
for i in "${!projects[@]}"; do
  p=${projects[$i]%/}
  [ -d "$p" ] || p="tests/$p"
  [ -f "$p/$(basename "$p").csproj" ] || { echo "stress.sh: no test project at $p" >&2; exit 2; }
  projects[$i]=$p
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
out="$root/artifacts/stress"
rm -rf "$out"
mkdir -p "$out"

load_pids=()
stop_load() {
  for pid in "${load_pids[@]:-}"; do
    [ -n "$pid" ] && kill -- "-$pid" 2>/dev/null || true
  done
}
trap stop_load EXIT

if [ "$load" = 1 ]; then
  limit=$((load_minutes * 60))
  # One busy core.
  setsid timeout "$limit" sh -c 'while :; do :; done' &
  load_pids+=($!)
  # A Redis server of its own on a free loopback port, driven by redis-benchmark in a loop.
  if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    setsid timeout "$limit" sh -c "
      redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --protected-mode no >/dev/null 2>&1 &
      sleep 1
      while :; do redis-benchmark -h 127.0.0.1 -p $port -q -c 8 -n 20000 -t set,get,lpush,lpop -P 4 >/dev/null 2>&1 || sleep 1; done" &
    load_pids+=($!)
    echo "stress.sh: load on: one busy core, redis-benchmark on 127.0.0.1:$port (stops with this script or after $load_minutes min)"
  else
    echo "stress.sh: load on: one busy core (redis-server or redis-benchmark missing, so no Redis load)"
  fi
fi

if [ "$build" = 1 ]; then
  echo "stress.sh: building"
  dotnet build Libraries.sln -c Release -nologo -v quiet -clp:NoSummary >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
fi

test_env=()
extra_filter="$filter"
if [ "$cluster" = 1 ]; then
  test_env=(LILITH_TEST_TOPOLOGY=cluster)
  extra_filter="Redis!=own-servers${filter:+&($filter)}"
fi

for p in "${projects[@]}"; do
  name=$(basename "$p")
  mkdir -p "$out/$name"
  for ((i = 1; i <= runs; i++)); do
    args=(test "$p" -c Release --no-build --nologo --logger "trx;LogFileName=run-$i.trx" --results-directory "$out/$name")
    [ -n "$extra_filter" ] && args+=(--filter "$extra_filter")
    started=$SECONDS
    set +e
    env "${test_env[@]}" dotnet "${args[@]}" >"$out/$name/run-$i.log" 2>&1 || true
    set -e
    echo "stress.sh: $name run $i/$runs ($((SECONDS - started)) s): $(grep -E '^(Passed|Failed)!' "$out/$name/run-$i.log" | tail -1 || echo 'no result line')"
  done
done

python3 - "$out" "$runs" "${projects[@]}" <<'EOF'
import glob, os, re, sys
from collections import Counter
out, runs, projects = sys.argv[1], int(sys.argv[2]), [os.path.basename(p) for p in sys.argv[3:]]
total_passed = total_failed = 0
rows, failing = [], []
for name in projects:
    failed_runs, counts = 0, Counter()
    for i in range(1, runs + 1):
        trx = os.path.join(out, name, f"run-{i}.trx")
        if not os.path.exists(trx):
            failed_runs += 1
            counts["(no results: the test host crashed or hung; see run-%d.log)" % i] += 1
            total_failed += 1
            continue
        text = open(trx, encoding="utf-8").read()
        counters = re.search(r"<Counters [^>]*>", text).group(0)
        passed = int(re.search(r'passed="(\d+)"', counters).group(1))
        failed = int(re.search(r'failed="(\d+)"', counters).group(1)) + int(re.search(r'error="(\d+)"', counters).group(1))
        total_passed += passed
        total_failed += failed
        names = re.findall(r'<UnitTestResult [^>]*testName="([^"]*)"[^>]*outcome="Failed"', text)
        names += re.findall(r'<UnitTestResult [^>]*outcome="Failed"[^>]*testName="([^"]*)"', text)
        if failed or names:
            failed_runs += 1
        counts.update(set(names))
    rows.append((name, runs, failed_runs))
    failing += [(n, name, c) for n, c in counts.items()]
print()
print(f"{'project':<34} {'runs':>5} {'runs with a failure':>20}")
for name, r, f in rows:
    print(f"{name:<34} {r:>5} {f:>20}")
if failing:
    print()
    print("failing tests (count over all runs):")
    for n, project, c in sorted(failing, key=lambda x: -x[2]):
        print(f"  {c:>3}x {n}  [{project}]")
print()
print(f"{total_passed} passed, {total_failed} failed")
sys.exit(1 if total_failed else 0)
EOF
