"""schema/domain-events.md: publish CloudEvents on a stream, consume them through a consumer group with ack."""
import json
import re
import time
import uuid
from datetime import datetime, timezone

import redis

from .schema import dumps, key, run, script

DOC = "domain-events.md"
C = "domain-events"
MAX_STREAM = 1_000_000
MAX_DEAD_LETTERS = 100_000
WINDOW_MS = 24 * 3600 * 1000


def cloud_event(source, type_, event_id=None, subject=None, data=None):
    """The CloudEvent JSON, members in the documented order, absent ones left out."""
    e = {"specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": source, "type": type_}
    if data is not None:
        e["datacontenttype"] = "application/json"
    if subject is not None:
        e["subject"] = subject
    e["time"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if data is not None:
        e["data"] = data
    return dumps(e)


def publish(r, prefix, stream, source, type_, event_id=None, subject=None, data=None):
    text = cloud_event(source, type_, event_id, subject, data)
    entry_id = r.xadd(key(C, "stream", prefix=prefix, stream=stream), {"v": "1", "event": text})
    return {"entryId": entry_id, "event": json.loads(text)}


def invalid_cloud_event(e):
    """Checks a CloudEvent as the document's consumers do; returns the error naming the attribute, or None."""
    if not isinstance(e, dict):
        return "event is not a JSON object"
    if e.get("specversion") != "1.0":
        return f"specversion {e.get('specversion')!r} is not 1.0"
    for attribute in ("id", "source", "type"):
        if not isinstance(e.get(attribute), str) or not e[attribute]:
            return f"attribute '{attribute}' is missing or not a string"
    for attribute in _OPTIONAL:
        if e.get(attribute) is not None and not isinstance(e[attribute], str):
            return f"attribute '{attribute}' must be a string"
    if e.get("data") is not None and e.get("data_base64") is not None:
        return "both 'data' and 'data_base64'"
    for name, value in e.items():
        if name in _KNOWN or value is None:
            continue
        if not re.fullmatch(r"[a-z0-9]{1,20}", name):
            return f"extension name '{name}' is not valid"
        if isinstance(value, (dict, list)):
            return f"extension '{name}' must be a string, number or boolean"
    return None


_OPTIONAL = ("datacontenttype", "dataschema", "subject", "time", "traceparent", "data_base64")
_KNOWN = ("specversion", "id", "source", "type", "data") + _OPTIONAL


def handled_key(prefix, stream, group, source, id_):
    """The handled marker; group and source carry their UTF-8 byte length so the key is injective."""
    return key(C, "handled", prefix=prefix, stream=stream, group=group, grouplength=len(group.encode("utf-8")),
               source=source, sourcelength=len(source.encode("utf-8")), id=id_)


def _ensure_group(r, stream_key, group):
    try:
        r.xgroup_create(stream_key, group, id="0", mkstream=True)
    except redis.exceptions.ResponseError as e:
        if not str(e).startswith("BUSYGROUP"):
            raise


def consume(r, prefix, stream, group, consumer, count, timeout_ms):
    """Reads new entries as group/consumer until `count` events are handled or the time is up; acks each handled one."""
    stream_key = key(C, "stream", prefix=prefix, stream=stream)
    _ensure_group(r, stream_key, group)
    deadline = time.monotonic() + timeout_ms / 1000
    events, dead_letters = [], []
    while len(events) < count and time.monotonic() < deadline:
        block = max(1, min(100, int((deadline - time.monotonic()) * 1000)))
        for _, entries in r.xreadgroup(group, consumer, {stream_key: ">"}, count=10, block=block) or []:
            for entry_id, fields in entries:
                event, problem = None, None
                if fields.get("v") != "1" or "event" not in fields:
                    v = fields.get("v") or ""
                    problem = ("unknown-version", f"schema version {v} is not known to this reader, which knows 1") \
                        if v.isdigit() and int(v) > 1 else ("malformed", "entry has no v 1 or no event")
                else:
                    try:
                        event = json.loads(fields["event"])
                        invalid = invalid_cloud_event(event)
                        problem = ("malformed", invalid) if invalid else None
                    except ValueError as e:
                        problem = ("malformed", str(e))
                if problem:
                    letter = dumps({"v": 1, "stream": stream, "group": group, "consumer": consumer, "entryId": entry_id,
                                    "attempts": 1, "reason": problem[0], "error": problem[1]})
                    run(r, script(DOC, "Dead letter what is still ours"), [stream_key, key(C, "dead-letter", prefix=prefix, stream=stream)],
                        [group, entry_id, MAX_DEAD_LETTERS, letter, fields.get("event", ""), consumer])
                    dead_letters.append({"entryId": entry_id, "reason": problem[0]})
                    continue
                handled = handled_key(prefix, stream, group, event["source"], event["id"])
                if r.exists(handled):
                    r.xack(stream_key, group, entry_id)
                    continue
                run(r, script(DOC, "Mark handled, then acknowledge"), [stream_key, handled], [group, entry_id, WINDOW_MS])
                events.append({"entryId": entry_id, "event": event})
    return {"complete": len(events) >= count, "events": events, "deadLetters": dead_letters}


def pending(r, prefix, stream, group):
    return {"pending": int(r.xpending(key(C, "stream", prefix=prefix, stream=stream), group)["pending"])}


def trim(r, prefix, stream, max_length=MAX_STREAM, hard_cap=0):
    """The retention rule: trims entries every group acknowledged once the stream is over its length; a hard cap only when given."""
    acknowledged, dropped, first_dropped, first_kept = run(r, script(DOC, "Trim acknowledged entries"),
                                                           [key(C, "stream", prefix=prefix, stream=stream)], [max_length, hard_cap])
    return {"acknowledged": int(acknowledged), "dropped": int(dropped), "firstDropped": first_dropped, "firstKept": first_kept}
