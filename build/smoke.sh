#!/usr/bin/env bash
# Consumer smoke test of the packed packages: copies build/smoke/ to a temporary directory outside the repository
# (so no Directory.Build.props, central versions or project references reach it), points a nuget.config of its own at
# artifacts/packages (Lilith.* only from there) plus nuget.org, uses a fresh NuGet packages folder, adds each of the
# five packages by id with `dotnet add package`, and runs it against a redis-server it starts on a free loopback port.
# Usage: build/smoke.sh <version>   (the version build/pack.sh wrote). Exit 0 when the consumer ran clean.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
version=${1:?usage: build/smoke.sh <version>}
work=$(mktemp -d /tmp/lilith-smoke-XXXXXX)
redis_pid=""
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cp build/smoke/Lilith.Smoke.csproj build/smoke/Program.cs "$work/"
cat > "$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$work/packages" /></config>
  <packageSources>
    <clear />
    <add key="lilith-packed" value="$root/artifacts/packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="lilith-packed"><package pattern="Lilith.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
redis_pid=$!

cd "$work"
for package in ServiceAddresses ServiceDiscovery CircuitBreaker DistributedLock DomainEvents; do
  dotnet add Lilith.Smoke.csproj package "Lilith.$package" --version "$version" >/dev/null
done
grep -o '<PackageReference Include="Lilith[^/]*' Lilith.Smoke.csproj | sed 's/^/smoke: /'
dotnet build -nologo -v quiet -clp:NoSummary -warnaserror
# Proof the assemblies came from the packed feed: the restored folder holds the five at exactly this version.
for package in ServiceAddresses ServiceDiscovery CircuitBreaker DistributedLock DomainEvents; do
  id=$(tr '[:upper:]' '[:lower:]' <<<"Lilith.$package")
  [ -f "$work/packages/$id/$version/$id.$version.nupkg" ] || { echo "smoke: Lilith.$package $version was not restored from the feed" >&2; exit 1; }
done
SMOKE_REDIS="127.0.0.1:$port" dotnet run --no-build
