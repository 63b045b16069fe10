"""Checks schema/vectors/*.json from Python, using only what schema/ documents.

Key patterns expand to the expected keys, prefixes and names are accepted or refused by the documented
rules, hash slots match redis-py's own slot function, and payload JSON survives a parse/write round trip.
Prints one line per failure and ends with "python vectors: N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import re
import sys

from redis.crc import key_slot

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lilith_schema.addresses import normalize_host  # noqa: E402
from lilith_schema.events import invalid_cloud_event  # noqa: E402

schema_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "schema")
with open(os.path.join(schema_dir, "redis-schema.json"), encoding="utf-8") as f:
    schema = json.load(f)

passed = 0
failures = []


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)


def expand(pattern, values):
    return re.sub(r"<([a-z]+)>", lambda m: str(values[m.group(1)]), pattern)


prefix_rule = re.compile(schema["conventions"]["prefixPattern"])


def name_ok(name):
    # Name rule of schema/README.md: 1..256 code points, no '{', no '}', no Cc control character, no lone surrogate.
    well_formed = not any(0xD800 <= ord(c) <= 0xDFFF for c in name)
    return 1 <= len(name) <= 256 and well_formed and not re.search(r"[{}\x00-\x1f\x7f-\x9f]", name)


for file in sorted(os.listdir(os.path.join(schema_dir, "vectors"))):
    if not file.endswith(".json"):
        continue
    with open(os.path.join(schema_dir, "vectors", file), encoding="utf-8") as f:
        vectors = json.load(f)
    if vectors["concern"] == "conventions":
        for p in vectors["prefixes"]["valid"]:
            check(prefix_rule.fullmatch(p) is not None, f"prefix {p!r} should be valid")
        for p in vectors["prefixes"]["invalid"]:
            check(prefix_rule.fullmatch(p) is None, f"prefix {p!r} should be invalid")
        for n in vectors["names"]["valid"]:
            check(name_ok(n), f"name {n!r} should be valid")
        for n in vectors["names"]["invalid"]:
            check(not name_ok(n), f"name {n!r} should be invalid")
        for t in vectors.get("text", []):
            written = json.dumps(t["value"], ensure_ascii=False)
            check(written == t["json"], f"text {t['json']}: json.dumps wrote {written}")
        for v in vectors["hashSlots"]:
            slot = key_slot(v["key"].encode("utf-8"))
            check(slot == v["slot"], f"{v['key']}: slot {slot}, vector {v['slot']}")
        continue
    for text in vectors.get("cloudEvents", {}).get("valid", []):
        check(invalid_cloud_event(json.loads(text)) is None, f"CloudEvent {text} should be valid")
    for text in vectors.get("cloudEvents", {}).get("malformed", []):
        check(invalid_cloud_event(json.loads(text)) is not None, f"CloudEvent {text} should be malformed")
    for h in vectors.get("claimHosts", []):
        got = normalize_host(h["host"])
        check(got == h["normalized"], f"claim host {h['host']}: normalised to {got}, expected {h['normalized']}")
    keys = schema["concerns"].get(vectors["concern"], {}).get("keys", {})
    for v in vectors.get("keys", []):
        spec = keys.get(v["key"])
        if spec is None:
            check(False, f"{vectors['concern']}.{v['key']}: not in redis-schema.json")
            continue
        built = expand(spec["pattern"], v["input"])
        check(built == v["expected"], f"{vectors['concern']}.{v['key']}: built {built}, expected {v['expected']}")
    for p in vectors.get("payloads", []):
        written = json.dumps(json.loads(p["json"]), separators=(",", ":"), ensure_ascii=False)
        check(written == p["json"], f"{vectors['concern']} payload {p['payload']}: wrote {written}, expected {p['json']}")

for f in failures:
    print(f"FAIL {f}")
print(f"python vectors: {passed} passed, {len(failures)} failed")
sys.exit(0 if not failures and passed > 0 else 1)
