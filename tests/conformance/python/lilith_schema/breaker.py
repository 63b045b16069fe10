"""schema/circuit-breaker.md: write and read the shared breaker state."""
import json
import time

from .schema import check_version, dumps, key, run, script

DOC = "circuit-breaker.md"
C = "circuit-breaker"
STATES = ("closed", "open", "half-open", "isolated")
DEFAULT_STATE_TTL_MS = 3_600_000


def halves(breaker, state, break_duration_ms, opens, instance):
    """The state payload in two halves around changedAt, which the scripts fill from the Redis clock."""
    if state not in STATES:
        raise ValueError(f"unknown breaker state '{state}'")
    head = '{"v":1,"breaker":' + dumps(breaker) + ',"state":' + dumps(state) + ',"changedAt":'
    rest = {}
    if state == "open":
        rest["breakDurationMs"] = break_duration_ms
    rest["opens"] = opens
    if instance is not None:
        rest["instance"] = instance
    return head, "," + dumps(rest)[1:]


def write(r, prefix, breaker, state, break_duration_ms, opens, instance=None, release_probe=False, state_ttl_ms=DEFAULT_STATE_TTL_MS):
    """write-state: the payload in two halves around changedAt, which the script fills from the Redis clock."""
    head, tail = halves(breaker, state, break_duration_ms, opens, instance)
    ttl = state_ttl_ms + (break_duration_ms if state == "open" else 0)
    changed_at = run(r, script(DOC, "write-state"),
                     [key(C, "state", prefix=prefix, breaker=breaker), key(C, "probe", prefix=prefix, breaker=breaker)],
                     [head, tail, ttl, key(C, "changed-channel", prefix=prefix), instance or "", "1" if release_probe else "0"])
    return {"changedAt": changed_at}


def read_payload(text):
    """Validates a state payload as the document's readers do; raises naming what is wrong."""
    s = json.loads(text)
    check_version(s)
    if not isinstance(s.get("breaker"), str) or s.get("state") not in STATES or not isinstance(s.get("changedAt"), int) \
            or not isinstance(s.get("opens"), int):
        raise ValueError(f"breaker state payload lacks breaker, state, changedAt or opens: {text}")
    if s["state"] == "open" and not (isinstance(s.get("breakDurationMs"), int) and s["breakDurationMs"] > 0):
        raise ValueError(f"open breaker state without a positive breakDurationMs: {text}")
    return s


def read(r, prefix, breaker):
    """read-state: the payload and the server's now, so retryAfter needs no host clock."""
    text, now = run(r, script(DOC, "read-state"), [key(C, "state", prefix=prefix, breaker=breaker)], [])
    if text is None:
        return {"state": None}
    s = read_payload(text)
    s["retryAfterMs"] = max(0, s["changedAt"] + s["breakDurationMs"] - now) if s["state"] == "open" else 0
    return s


def wait_for(r, prefix, breaker, state, timeout_ms):
    """Reads until the breaker shows `state` (or the time is up), as the document's periodic read-state does."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        s = read(r, prefix, breaker)
        if s["state"] == state or time.monotonic() >= deadline:
            return s
        time.sleep(0.02)


def try_probe(r, prefix, breaker, instance, lease_ms):
    return {"probe": bool(r.set(key(C, "probe", prefix=prefix, breaker=breaker), instance, px=lease_ms, nx=True))}


def renew_probe(r, prefix, breaker, instance, lease_ms):
    """renew-probe: extends the lease only for its holder."""
    return {"renewed": run(r, script(DOC, "renew-probe"), [key(C, "probe", prefix=prefix, breaker=breaker)], [instance, lease_ms]) == 1}


def report(r, prefix, breaker, instance, kind, instances, window_ms, fraction=0, break_duration_ms=None, opens=1,
           state_ttl_ms=DEFAULT_STATE_TTL_MS):
    """report: a quorum report (alive, trip or recover). A trip sends the open state it would write; the script writes and
    announces it when this trip completes the quorum of max(instances, ceil(fraction * live)) distinct trips within the window."""
    if kind not in ("alive", "trip", "recover"):
        raise ValueError(f"unknown report kind '{kind}'")
    head, tail = halves(breaker, "open", break_duration_ms, opens, instance) if kind == "trip" else ("", "")
    opened, trips, required, now = run(
        r, script(DOC, "report"),
        [key(C, "trips", prefix=prefix, breaker=breaker), key(C, "members", prefix=prefix, breaker=breaker),
         key(C, "state", prefix=prefix, breaker=breaker)],
        [instance, kind, window_ms, instances, fraction, head, tail, state_ttl_ms + break_duration_ms if kind == "trip" else 0,
         key(C, "changed-channel", prefix=prefix)])
    return {"opened": opened == 1, "trips": trips, "required": required, "reportedAt": now}
