"""What every concern module needs from schema/: key patterns from redis-schema.json, Lua scripts taken verbatim
from the concern's document, the version rule and a script runner (EVALSHA, falling back to EVAL)."""
import hashlib
import json
import os
import re
import secrets
import socket

import redis

SCHEMA_DIR = os.environ.get("LILITH_SCHEMA_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "schema")
with open(os.path.join(SCHEMA_DIR, "redis-schema.json"), encoding="utf-8") as _f:
    _SCHEMA = json.load(_f)
SCHEMA_VERSION = _SCHEMA["schemaVersion"]


def key(concern, key_id, **values):
    """Builds a key or channel of a concern from its pattern in redis-schema.json."""
    spec = _SCHEMA["concerns"].get(concern, {}).get("keys", {}).get(key_id)
    if spec is None:
        raise KeyError(f"redis-schema.json has no key '{key_id}' under concern '{concern}'")
    return re.sub(r"<([a-z]+)>", lambda m: str(values[m.group(1)]), spec["pattern"])


_scripts = {}


def script(document, heading):
    """The Lua block under the heading '### <heading>' of schema/<document>, verbatim."""
    script_id = (document, heading)
    if script_id not in _scripts:
        with open(os.path.join(SCHEMA_DIR, document), encoding="utf-8") as f:
            text = f.read()
        match = re.search(r"^### " + re.escape(heading) + r"[^\n]*\n.*?```lua\n(.*?)```", text, re.M | re.S)
        if match is None:
            raise KeyError(f"schema/{document} has no Lua script under '### {heading}'")
        lua = match.group(1)
        _scripts[script_id] = (lua, hashlib.sha1(lua.encode("utf-8")).hexdigest())
    return _scripts[script_id]


def run(r, lua_and_sha, keys, args):
    """Runs a documented script with EVALSHA, falling back to EVAL on NOSCRIPT."""
    lua, sha = lua_and_sha
    argv = [str(a) for a in args]
    try:
        return r.evalsha(sha, len(keys), *keys, *argv)
    except redis.exceptions.NoScriptError:
        return r.eval(lua, len(keys), *keys, *argv)


def check_version(payload):
    """Refuses a payload of a schema version this reader does not know, with the message schema/README.md gives."""
    v = payload.get("v") if isinstance(payload, dict) else None
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError('payload has no integer "v"')
    if v > SCHEMA_VERSION:
        raise ValueError(f"schema version {v} is not known to this reader, which knows {SCHEMA_VERSION}")


def dumps(value):
    """Compact JSON, text unescaped, as the schema's payloads are written."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def holder_token():
    """A holder token as schema/distributed-lock.md describes it: <language>:<host>:<pid>:<32 hex>."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64]
    return f"python:{host}:{os.getpid()}:{secrets.token_hex(16)}"
