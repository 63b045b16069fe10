"""schema/service-discovery.md: register, heartbeat, deregister and resolve instances; receive change events."""
import json
import sys
import time

from .schema import check_version, dumps, key, run, script

DOC = "service-discovery.md"
C = "service-discovery"


def _keys(prefix, service):
    return {k: key(C, k, prefix=prefix, service=service) for k in ("instances", "expiry", "revision", "services", "events-channel")}


def _index_keys(prefix, service, instance):
    """The index sets an instance belongs to: dimensions tag, zone and version."""
    if not instance:
        return []
    sets = [("tag", t) for t in instance.get("tags", [])]
    sets += [(d, instance[d]) for d in ("zone", "version") if instance.get(d) is not None]
    return [key(C, "index", prefix=prefix, service=service, dimension=d, value=v) for d, v in sets]


def instance_payload(i):
    """The instance payload, members in the documented order, nulls left out."""
    p = {"v": 1, "id": i["id"], "host": i["host"], "port": i["port"], "scheme": i.get("scheme") or "http",
         "weight": i.get("weight", 1), "tags": i.get("tags") or [], "metadata": i.get("metadata") or {}}
    for optional in ("zone", "version"):
        if i.get(optional) is not None:
            p[optional] = i[optional]
    p["health"] = i.get("health") or "passing"
    return dumps(p)


def read_instance(field, text):
    i = json.loads(text)
    check_version(i)
    if not isinstance(i.get("id"), str) or not isinstance(i.get("host"), str) or not isinstance(i.get("port"), int):
        raise ValueError(f"instance {field}: id, host or port missing")
    return i


def register(r, prefix, service, instance, ttl_ms):
    k = _keys(prefix, service)
    text = instance_payload(instance)
    expected = ""
    for _ in range(5):
        old = _index_keys(prefix, service, json.loads(expected)) if expected else []
        code, value = run(r, script(DOC, "register"),
                          [k["instances"], k["expiry"], k["revision"], *old, *_index_keys(prefix, service, instance)],
                          [instance["id"], expected, text, ttl_ms, len(old), k["events-channel"], dumps(service), dumps(instance["id"])])
        if code == -1:
            expected = value
            continue
        run(r, script(DOC, "touch-service"), [k["services"]], [service])
        return {"written": code == 1, "revision": value if code == 1 else None}
    raise RuntimeError(f"register {service}/{instance['id']}: the stored value kept changing")


def heartbeat(r, prefix, service, instance_id, ttl_ms):
    k = _keys(prefix, service)
    return {"renewed": run(r, script(DOC, "heartbeat"), [k["instances"], k["expiry"]], [instance_id, ttl_ms]) == 1}


def deregister(r, prefix, service, instance_id):
    k = _keys(prefix, service)
    for _ in range(5):
        stored = r.hget(k["instances"], instance_id)
        if stored is None:
            return {"removed": False}
        code = run(r, script(DOC, "remove"),
                   [k["instances"], k["expiry"], k["revision"], *_index_keys(prefix, service, json.loads(stored))],
                   [instance_id, stored, "deregistered", k["events-channel"], dumps(service), dumps(instance_id)])
        if code != -1:
            return {"removed": code == 1}
    raise RuntimeError(f"deregister {service}/{instance_id}: the stored value kept changing")


def resolve(r, prefix, service):
    """The live instances (load script); an unreadable entry is reported on stderr and skipped."""
    k = _keys(prefix, service)
    revision, flat = run(r, script(DOC, "load"), [k["instances"], k["expiry"], k["revision"]], [])
    instances = []
    for field, text in zip(flat[::2], flat[1::2]):
        try:
            instances.append(read_instance(field, text))
        except ValueError as e:
            print(f"skipped {k['instances']} {field}: {e}", file=sys.stderr)
    return {"revision": int(revision), "instances": instances}


def watch(r, prefix, service, count, timeout_ms, on_ready):
    """Subscribes to the service's events channel, calls on_ready once subscribed, returns the first `count` events."""
    channel = _keys(prefix, service)["events-channel"]
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    on_ready()
    deadline = time.monotonic() + timeout_ms / 1000
    events = []
    while len(events) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
        if message is None or message["type"] != "message":
            continue
        try:
            event = json.loads(message["data"])
            check_version(event)
            events.append(event)
        except ValueError as e:
            print(f"skipped event on {channel}: {e}", file=sys.stderr)
    pubsub.close()
    return {"complete": len(events) >= count, "events": events}
