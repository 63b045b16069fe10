#!/usr/bin/env bash
# Runs every test on a fresh machine: installs redis-server when missing (as root, from the Debian packages),
# builds the solution with warnings as errors, runs every test project against a real Redis started by the
# test fixture (standalone), runs the Redis test projects again against a 3-master Redis Cluster
# (LILITH_TEST_TOPOLOGY=cluster), packs the five packages and runs the consumer smoke test on them, runs pairs-check,
# and ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_URL:-}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing redis-server (Debian package)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "test.sh: redis-server is not on PATH and this user cannot install it; set REDIS_URL or install redis-server." >&2
    exit 1
  fi
fi
# The Debian package starts a system service on 6379; the tests start their own servers and do not need it.

# Cross-language conformance: Debian's python3-redis and the Node.js packages pinned by the lock file.
if ! /usr/bin/python3 -c 'import redis' >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing python3-redis (Debian package)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-redis >/dev/null
  else
    echo "test.sh: python3-redis is missing and this user cannot install it; the Python conformance tests will fail." >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  echo "test.sh: installing the conformance suite's Node.js packages (package-lock.json)"
  npm ci --prefix tests/conformance/node --no-audit --no-fund --loglevel=error >/dev/null
else
  echo "test.sh: npm is not on PATH; the Node.js conformance tests will fail." >&2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

echo "test.sh: building"
dotnet build Libraries.sln -c Release -warnaserror -nologo -v quiet -clp:NoSummary

echo "test.sh: testing (topology: standalone)"
pass_started=$SECONDS
set +e
dotnet test Libraries.sln -c Release --no-build --nologo \
  --logger "trx" --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1500000
test_rc=$?
set -e
echo "test.sh: standalone pass took $((SECONDS - pass_started)) s"

# The same Redis suites on a 3-master Redis Cluster the fixture starts; tests that start servers of their own
# (Sentinel, TLS, ACL, the cluster fixture's own checks) ran above and are left out here.
echo "test.sh: testing (topology: cluster)"
pass_started=$SECONDS
set +e
LILITH_TEST_TOPOLOGY=cluster dotnet test build/cluster.slnf -c Release --no-build --nologo \
  --filter "Redis!=own-servers" --logger "trx" --results-directory "$results/cluster" \
  -- RunConfiguration.TestSessionTimeout=1500000 2>&1 | tee "$results/cluster.log"
cluster_rc=${PIPESTATUS[0]}
set -e
echo "test.sh: cluster pass took $((SECONDS - pass_started)) s"
if grep -q -e CROSSSLOT -e "must involve a single slot" "$results/cluster.log"; then
  echo "test.sh: the cluster pass met a cross-slot error"
  cluster_rc=1
fi

# Packaging: the Release build just tested, packed under a version no earlier run used, installed by package id
# into a consumer outside the solution.
echo "test.sh: packing and running the consumer smoke test"
pass_started=$SECONDS
smoke_version="0.1.0-ci.$(date +%Y%m%d%H%M%S)"
rm -f artifacts/packages/Lilith.*-ci.*nupkg
smoke_rc=0
{ LILITH_PACK_NO_BUILD=1 build/pack.sh "$smoke_version" && build/smoke.sh "$smoke_version"; } || smoke_rc=$?
echo "test.sh: pack + smoke took $((SECONDS - pass_started)) s"

pairs_rc=0
build/pairs-check --results "$results" || pairs_rc=$?

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx "$results"/cluster/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  x=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(( ${t:-0} - ${x:-0} ))  # skipped tests are counted in total but not executed (notExecuted stays 0 for xunit)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${n:-0}))
done
if { [ "$test_rc" -ne 0 ] || [ "$cluster_rc" -ne 0 ]; } && [ "$failed" -eq 0 ]; then
  # A test host that crashed or timed out writes no failed count; do not let that pass.
  failed=1
fi
if [ "$smoke_rc" -eq 0 ]; then
  passed=$((passed + 1))
  echo "test.sh: consumer smoke test passed (packages $smoke_version from artifacts/packages)"
else
  echo "test.sh: consumer smoke test failed"
  failed=$((failed + 1))
fi
if [ "$pairs_rc" -ne 0 ]; then
  echo "test.sh: pairs-check failed"
  failed=$((failed + 1))
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
