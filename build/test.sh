#!/usr/bin/env bash
# Runs every test on a fresh machine: installs redis-server when missing (as root, from the Debian packages),
# builds the solution with warnings as errors, runs every test project against a real Redis started by the
# test fixture, runs pairs-check, and ends with the line "N passed, N failed".
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

echo "test.sh: testing"
set +e
dotnet test Libraries.sln -c Release --no-build --nologo \
  --logger "trx" --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1500000
test_rc=$?
set -e

pairs_rc=0
build/pairs-check --results "$results" || pairs_rc=$?

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${n:-0}))
done
if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A test host that crashed or timed out writes no failed count; do not let that pass.
  failed=1
fi
if [ "$pairs_rc" -ne 0 ]; then
  echo "test.sh: pairs-check failed"
  failed=$((failed + 1))
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
