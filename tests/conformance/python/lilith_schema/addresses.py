"""schema/service-addresses.md: publish and load an environment's registry, claim a host:port."""
import json

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
    for s in registry["services"]:
        if not s.get("name") or not s.get("host") or not s.get("scheme") or not 1 <= int(s.get("port", 0)) <= 65535:
            raise ValueError(f"{registry_key}: service {s} lacks name, host, scheme or a valid port")
        s.setdefault("endpoints", {s["scheme"]: s["port"]})
        s.setdefault("dependencies", [])
        s.setdefault("tags", [])
    return {"revision": int(revision), "environment": registry["environment"], "services": registry["services"]}


def _claim_key(prefix, environment, host, port):
    return key(C, "claim", prefix=prefix, environment=environment.lower(), host=host, port=port)


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
