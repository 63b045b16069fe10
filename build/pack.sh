#!/usr/bin/env bash
# Packs the five libraries (with symbols, README, XML docs, license) into artifacts/packages, the local feed
# that nuget.config names. Usage: build/pack.sh [version]   (default: the VersionPrefix of Directory.Build.props)
set -euo pipefail
cd "$(dirname "$0")/.."
version_args=()
if [ -n "${1:-}" ]; then version_args=(-p:Version="$1"); fi
for project in ServiceAddresses ServiceDiscovery CircuitBreaker DistributedLock DomainEvents; do
  dotnet pack "$project/Lilith.$project.csproj" -c Release -nologo -v quiet -clp:NoSummary \
    -o artifacts/packages "${version_args[@]}"
done
ls -1 artifacts/packages/*.nupkg
