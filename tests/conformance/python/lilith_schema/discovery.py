"""schema/service-discovery.md: register, heartbeat, deregister and resolve instances; receive change events."""
import json
import sys
import time

from .schema import SCHEMA_VERSION, dumps, key, run, script

DOC = "service-discovery.md"
C = "service-discovery"


def _keys(prefix, service):
    return {k: key(C, k, prefix=prefix, service=service) for k in ("instances", "expiry", "revision", "services", "events-channel")}


def _index_keys(prefix, service, instance):
    """The index sets an instance belongs to: dimensions tag, zone and version, read leniently so a broken entry still
    leaves its sets (schema: "Reading a payload", point 6)."""
    if not isinstance(instance, dict):
        return []
    tags = instance.get("tags")
    sets = [("tag", t) for t in dict.fromkeys(tags if isinstance(tags, list) else []) if isinstance(t, str)]
    sets += [(d, instance[d]) for d in ("zone", "version") if isinstance(instance.get(d), str)]
    return [key(C, "index", prefix=prefix, service=service, dimension=d, value=v) for d, v in sets]


def _parse_loose(text):
    """A stored value as a dict when it is one (for its index sets), else None."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def instance_payload(i):
    """The instance payload, members in the documented order, nulls left out."""
    p = {"v": 1, "id": i["id"], "host": i["host"], "port": i["port"], "scheme": i.get("scheme") or "http",
         "weight": i.get("weight", 1), "tags": i.get("tags") or [], "metadata": i.get("metadata") or {}}
    for optional in ("zone", "version"):
        if i.get(optional) is not None:
            p[optional] = i[optional]
    p["health"] = i.get("health") or "passing"
    return dumps(p)


# schema/service-discovery.md, "Reading a payload": a member absent or null is absent (optional -> default, required ->
# unreadable); a member present with any other value must have its documented type and range, or the payload is unreadable.
def _is_str(x):
    return isinstance(x, str)


def _non_empty(x):
    return isinstance(x, str) and len(x) > 0


def _integer(lo, hi):
    def check(x):
        whole = (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer())
        return whole and lo <= x <= hi
    return check


def _strings(x):
    return isinstance(x, list) and all(isinstance(t, str) for t in x)


def _string_map(x):
    return isinstance(x, dict) and all(isinstance(v, str) for v in x.values())


def _one_of(*values):
    return lambda x: isinstance(x, str) and x in values


def _member(o, name, required, check, what):
    value = o.get(name)
    if value is None:
        if required:
            raise ValueError(f"required member {name} is missing or null")
        return None
    if not check(value):
        raise ValueError(f"member {name} is not {what}")
    return value


def _reject_constant(name):
    raise ValueError(f"not JSON ({name})")


def _read_object(text):
    o = json.loads(text, parse_constant=_reject_constant) if isinstance(text, (str, bytes)) else text
    if not isinstance(o, dict):
        raise ValueError("not a JSON object")
    v = _member(o, "v", True, _integer(1, float("inf")), "an integer >= 1")
    if v > SCHEMA_VERSION:
        raise ValueError(f"schema version {int(v)} is not known to this reader, which knows {SCHEMA_VERSION}")
    return o


def read_instance(field, text):
    """An instance payload (a JSON text or an already parsed value) by the reading rule; raises ValueError when unusable."""
    i = _read_object(text)
    _member(i, "id", True, _non_empty, "a non-empty string")
    _member(i, "host", True, _non_empty, "a non-empty string")
    _member(i, "port", True, _integer(1, 65535), "an integer from 1 to 65535")
    _member(i, "scheme", False, _non_empty, "a non-empty string")
    _member(i, "weight", False, _integer(0, 2147483647), "an integer from 0 to 2147483647")
    _member(i, "tags", False, _strings, "an array of strings")
    _member(i, "metadata", False, _string_map, "an object of string values")
    _member(i, "zone", False, _is_str, "a string")
    _member(i, "version", False, _is_str, "a string")
    _member(i, "health", False, _one_of("passing", "warning", "critical"), "passing, warning or critical")
    if field is not None and i["id"] != field:
        raise ValueError(f"the payload's id '{i['id']}' differs from its field '{field}'")
    return i


def read_event(service, text):
    """An event payload received on the channel of `service`, by the reading rule; raises ValueError when unusable."""
    e = _read_object(text)
    _member(e, "type", True, _one_of("registered", "deregistered", "expired", "health-changed"),
            "registered, deregistered, expired or health-changed")
    _member(e, "service", True, _non_empty, "a non-empty string")
    _member(e, "id", True, _non_empty, "a non-empty string")
    _member(e, "revision", True, _integer(1, float("inf")), "an integer >= 1")
    _member(e, "at", True, _integer(0, 253402300799999), "an instant from 0 to 253402300799999")
    if e["type"] in ("registered", "health-changed"):
        instance = _member(e, "instance", True, lambda x: True, "an instance")
        try:
            read_instance(e["id"], instance)
        except ValueError as err:
            raise ValueError(f"member instance: {err}") from err
    if e["service"] != service:
        raise ValueError(f"the event names service '{e['service']}'")
    return e


def register(r, prefix, service, instance, ttl_ms):
    k = _keys(prefix, service)
    text = instance_payload(instance)
    expected = ""
    for _ in range(5):
        old = _index_keys(prefix, service, _parse_loose(expected)) if expected else []
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
                   [k["instances"], k["expiry"], k["revision"], *_index_keys(prefix, service, _parse_loose(stored))],
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
            events.append(read_event(service, message["data"]))
        except ValueError as e:
            print(f"skipped event on {channel}: {e}", file=sys.stderr)
    pubsub.close()
    return {"complete": len(events) >= count, "events": events}
