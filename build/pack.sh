#!/usr/bin/env bash
# Packs the five libraries (with symbols, README, XML docs, license) into artifacts/packages, the local feed
# that nuget.config names. Usage: build/pack.sh [version]   (default: the VersionPrefix of Directory.Build.props)
# With LILITH_PACK_NO_BUILD=1 the Release build already made is packed as is (no rebuild) and [version] only names the
# packages (PackageVersion), which is what build/test.sh does before the consumer smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
pack_args=(-c Release -nologo -v quiet -clp:NoSummary -o artifacts/packages)
if [ "${LILITH_PACK_NO_BUILD:-}" = "1" ]; then
  pack_args+=(--no-build)
  if [ -n "${1:-}" ]; then pack_args+=(-p:PackageVersion="$1"); fi
elif [ -n "${1:-}" ]; then
  pack_args+=(-p:Version="$1")
fi
for project in ServiceAddresses ServiceDiscovery CircuitBreaker DistributedLock DomainEvents; do
  dotnet pack "$project/Lilith.$project.csproj" "${pack_args[@]}"
done

# Every package carries what a user and the symbol server need.
version=${1:-}
for project in ServiceAddresses ServiceDiscovery CircuitBreaker DistributedLock DomainEvents; do
  nupkg=$(ls -t artifacts/packages/Lilith.$project.${version}*.nupkg | head -1)
  snupkg=${nupkg%.nupkg}.snupkg
  listing=$(unzip -l "$nupkg")
  for needed in README.md "lib/net8.0/Lilith.$project.xml" "lib/net10.0/Lilith.$project.xml" "lib/net10.0/Lilith.$project.dll"; do
    grep -q " $needed\$" <<<"$listing" || { echo "pack.sh: $nupkg lacks $needed" >&2; exit 1; }
  done
  unzip -p "$nupkg" "Lilith.$project.nuspec" | grep -q '<license type="expression">' || { echo "pack.sh: $nupkg has no license expression" >&2; exit 1; }
  [ -f "$snupkg" ] || { echo "pack.sh: no symbols package $snupkg" >&2; exit 1; }
  echo "$nupkg (+ $(basename "$snupkg"))"
done
