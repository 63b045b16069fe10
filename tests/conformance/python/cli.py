"""One operation of the schema per call, for the conformance driver (tests/Lilith.Conformance.Tests):
    python3 cli.py <command> --url redis://host:port --prefix <prefix> [--options]
Prints one JSON line with the result (commands that subscribe print {"subscribed":true} first).
Exit 0 on success, 1 when a bounded wait ended without what it waited for, 2 on an error.
"""
import argparse
import json
import os
import sys
import traceback

import redis

from lilith_schema import addresses, breaker, discovery, events, lock

OPTIONS = ["url", "prefix", "env", "file", "host", "port", "service", "ttl", "token", "id", "zone", "tags", "version", "count",
           "timeout-ms", "name", "wait-ms", "breaker", "state", "break-ms", "opens", "instance", "stream", "type", "source",
           "subject", "data", "group", "consumer", "max-poll-ms", "kind", "quorum", "fraction", "window-ms"]
parser = argparse.ArgumentParser(prog="cli.py")
parser.add_argument("command", nargs="?", default="")
for option in OPTIONS:
    parser.add_argument("--" + option)
o = vars(parser.parse_args())
prefix = o["prefix"] or "lilith"
r = redis.Redis.from_url(o["url"] or "redis://127.0.0.1:6379", decode_responses=True)


def num(name, fallback=None):
    return fallback if o[name.replace("-", "_")] is None else int(o[name.replace("-", "_")])


def say(value):
    print(json.dumps(value, separators=(",", ":"), ensure_ascii=False), flush=True)


def read_file(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


COMMANDS = {
    "addresses-publish": lambda: addresses.publish(r, prefix, o["env"], read_file(o["file"])),
    "addresses-load": lambda: addresses.load(r, prefix, o["env"]),
    "addresses-claim": lambda: addresses.claim(r, prefix, o["env"], o["host"], num("port"), o["service"], num("ttl", 30000)),
    "addresses-renew-claim": lambda: addresses.renew_claim(r, prefix, o["env"], o["host"], num("port"), o["token"], num("ttl", 30000)),
    "addresses-release-claim": lambda: addresses.release_claim(r, prefix, o["env"], o["host"], num("port"), o["token"]),
    "discovery-register": lambda: discovery.register(r, prefix, o["service"], {
        "id": o["id"], "host": o["host"], "port": num("port"), "tags": o["tags"].split(",") if o["tags"] else [],
        "zone": o["zone"], "version": o["version"]}, num("ttl", 15000)),
    "discovery-heartbeat": lambda: discovery.heartbeat(r, prefix, o["service"], o["id"], num("ttl", 15000)),
    "discovery-deregister": lambda: discovery.deregister(r, prefix, o["service"], o["id"]),
    "discovery-resolve": lambda: discovery.resolve(r, prefix, o["service"]),
    "discovery-watch": lambda: discovery.watch(r, prefix, o["service"], num("count", 1), num("timeout-ms", 10000), lambda: say({"subscribed": True})),
    "lock-acquire": lambda: lock.acquire_waiting(r, prefix, o["name"], num("ttl", 30000), num("wait-ms"),
                                          lambda: say({"subscribed": True}), num("max-poll-ms", 500))
    if o["wait_ms"] else lock.acquire(r, prefix, o["name"], num("ttl", 30000)),
    "lock-renew": lambda: lock.renew(r, prefix, o["name"], o["token"], num("ttl", 30000)),
    "lock-release": lambda: lock.release(r, prefix, o["name"], o["token"]),
    "breaker-write": lambda: breaker.write(r, prefix, o["breaker"], o["state"], num("break-ms"), num("opens", 0), o["instance"]),
    "breaker-read": lambda: breaker.read(r, prefix, o["breaker"]),
    "breaker-wait": lambda: breaker.wait_for(r, prefix, o["breaker"], o["state"], num("timeout-ms", 10000)),
    "breaker-probe": lambda: breaker.try_probe(r, prefix, o["breaker"], o["instance"], num("ttl", 10000)),
    "breaker-renew-probe": lambda: breaker.renew_probe(r, prefix, o["breaker"], o["instance"], num("ttl", 10000)),
    "breaker-report": lambda: breaker.report(r, prefix, o["breaker"], o["instance"], o["kind"], num("quorum", 2), num("window-ms", 60000),
                                             float(o["fraction"] or 0), num("break-ms", 30000), num("opens", 1)),
    "events-publish": lambda: events.publish(r, prefix, o["stream"], o["source"], o["type"], o["id"], o["subject"],
                                             None if o["data"] is None else json.loads(o["data"])),
    "events-consume": lambda: events.consume(r, prefix, o["stream"], o["group"], o["consumer"] or f"python-{os.getpid()}",
                                             num("count", 1), num("timeout-ms", 10000)),
    "events-pending": lambda: events.pending(r, prefix, o["stream"], o["group"]),
}

if o["command"] not in COMMANDS:
    print(f"unknown command '{o['command']}'; commands: {', '.join(COMMANDS)}", file=sys.stderr)
    sys.exit(2)
try:
    result = COMMANDS[o["command"]]()
except Exception:  # noqa: BLE001 - the driver shows the whole error
    traceback.print_exc()
    sys.exit(2)
say(result)
sys.exit(1 if result.get("complete") is False else 0)
