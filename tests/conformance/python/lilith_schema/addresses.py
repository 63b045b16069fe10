"""schema/service-addresses.md: publish and load an environment's registry, claim a host:port."""
import json
import sys

from .schema import check_version, dumps, holder_token, key, run, script

DOC = "service-addresses.md"
C = "service-addresses"


def _keys(prefix, environment):
    env = environment.lower()
    return (key(C, "registry", prefix=prefix, environment=env), key(C, "revision", prefix=prefix, environment=env),
            key(C, "changed-channel", prefix=prefix, environment=env))


def effective_registry(file, environment):
    """The effective registry of an environment from a registry file (JSON form), as the document's steps 1-3 say."""
    env = environment.lower()
    overrides = next((o for name, o in (file.get("environments") or {}).items() if name.lower() == env), {})
    services = []
    for name, s in file["services"].items():
        o = overrides.get(name, {})
        host = o.get("host", s.get("host", "localhost"))
        port = o.get("port", s["port"])
        scheme = o.get("scheme", s.get("scheme", "http"))
        endpoints = {scheme: port, **s.get("endpoints", {}), **o.get("endpoints", {})}
        services.append({"name": name, "host": host, "port": port, "scheme": scheme, "endpoints": endpoints,
                         "dependencies": s.get("dependencies", []), "tags": s.get("tags", [])})
    return {"v": 1, "environment": env, "services": services}


def publish(r, prefix, environment, file):
    registry, revision, changed = _keys(prefix, environment)
    payload = dumps(effective_registry(file, environment))
    return {"revision": run(r, script(DOC, "publish"), [registry, revision], [payload, changed])}


def load(r, prefix, environment):
    registry_key, revision_key, _ = _keys(prefix, environment)
    text, revision = run(r, script(DOC, "load"), [registry_key, revision_key], [])
    if text is None:
        return {"revision": None, "services": None}
    registry = json.loads(text)
    check_version(registry)
    if not isinstance(registry.get("environment"), str) or not registry["environment"] or not isinstance(registry.get("services"), list):
        raise ValueError(f"{registry_key}: needs an environment and a services array")
    # schema/README.md, "Reading a payload": one unreadable service is reported and skipped, its neighbours are kept.
    services, skipped = [], []
    for i, s in enumerate(registry["services"]):
        why = _unreadable_service(s)
        if why:
            skipped.append(f"services[{i}]: {why}")
            continue
        services.append({
            "name": s["name"], "host": s["host"], "port": int(s["port"]), "scheme": s["scheme"],
            "endpoints": {k: int(v) for k, v in (s.get("endpoints") or {s["scheme"]: s["port"]}).items()},
            "dependencies": s.get("dependencies") or [], "tags": s.get("tags") or [],
        })
    for line in skipped:
        print(f"{registry_key}: skipped {line}", file=sys.stderr)
    return {"revision": None if revision is None else int(revision), "environment": registry["environment"], "services": services, "skipped": skipped}


def _whole(n, low, high):
    """An integer by the reading rule: a JSON number with a whole value (8080, 8080.0, 8.08e3); never a boolean."""
    return isinstance(n, (int, float)) and not isinstance(n, bool) and float(n).is_integer() and low <= n <= high


def _unreadable_service(s):
    """Null counts as absent; a present member of the wrong type makes the service unreadable."""
    if not isinstance(s, dict):
        return "not a JSON object"
    s = {k: v for k, v in s.items() if v is not None}
    for name in ("name", "host", "scheme"):
        if not isinstance(s.get(name), str) or not s[name]:
            return f"{name}: must be a non-empty string"
    if not _whole(s.get("port"), 1, 65535):
        return "port: must be a whole number in 1..65535"
    endpoints = s.get("endpoints")
    if endpoints is not None and (not isinstance(endpoints, dict) or not all(_whole(p, 1, 65535) for p in endpoints.values())):
        return "endpoints: must be an object of ports"
    for name in ("dependencies", "tags"):
        value = s.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(x, str) for x in value)):
            return f"{name}: must be an array of strings"
    return None


def normalize_host(host):
    """schema/service-addresses.md, "Keys": ASCII letters lowercased, one trailing dot and IPv6 brackets removed."""
    if len(host) > 2 and host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if len(host) > 1 and host.endswith("."):
        host = host[:-1]
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in host)


def _claim_key(prefix, environment, host, port):
    return key(C, "claim", prefix=prefix, environment=environment.lower(), host=normalize_host(host), port=port)


def claim(r, prefix, environment, host, port, service, ttl_ms):
    claim_key = _claim_key(prefix, environment, host, port)
    token = dumps({"v": 1, "service": service, "owner": holder_token()})
    if r.set(claim_key, token, px=ttl_ms, nx=True):
        return {"claimed": True, "token": token}
    return {"claimed": False, "holder": r.get(claim_key)}


def renew_claim(r, prefix, environment, host, port, token, ttl_ms):
    return {"renewed": run(r, script(DOC, "renew-claim"), [_claim_key(prefix, environment, host, port)], [token, ttl_ms]) == 1}


def release_claim(r, prefix, environment, host, port, token):
    return {"released": run(r, script(DOC, "release-claim"), [_claim_key(prefix, environment, host, port)], [token]) == 1}
