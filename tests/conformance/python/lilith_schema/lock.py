"""schema/distributed-lock.md: the exclusive lock with its fencing token."""
import math
import time

from .schema import holder_token, key, run, script

DOC = "distributed-lock.md"
C = "distributed-lock"


def _lease_ms(ttl_ms):
    return max(30, math.ceil(ttl_ms))


def acquire(r, prefix, name, ttl_ms):
    """One try of the acquire script: {acquired, token, fence} or {acquired: False, pttl}."""
    token = holder_token()
    granted, value = run(r, script(DOC, "acquire"), [key(C, "lock", prefix=prefix, name=name), key(C, "fence", prefix=prefix, name=name)],
                         [token, _lease_ms(ttl_ms)])
    return {"acquired": True, "token": token, "fence": value} if granted == 1 else {"acquired": False, "pttl": value}


def acquire_waiting(r, prefix, name, ttl_ms, wait_ms, on_ready, max_poll_ms=500):
    """The documented wait: subscribe to the released channel, try again on a release message or the poll pause.
    Calls on_ready once subscribed (or at once when the first try wins); the result says what woke the winning try."""
    deadline = time.monotonic() + wait_ms / 1000
    result = acquire(r, prefix, name, ttl_ms)
    if result["acquired"] or wait_ms <= 0:
        on_ready()
        return {**result, "wokenBy": "first-try"}
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(key(C, "released-channel", prefix=prefix, name=name))
    pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    on_ready()
    pause = 0.010
    woken_by = "first-try"
    try:
        while True:
            result = acquire(r, prefix, name, ttl_ms)
            left = deadline - time.monotonic()
            if result["acquired"] or left <= 0:
                return {**result, "wokenBy": woken_by}
            bound = min(pause, (result["pttl"] + 1) / 1000 if result["pttl"] >= 0 else pause, left)
            woken_by = "release-message" if pubsub.get_message(timeout=bound) else "poll"
            pause = min(pause * 2, max_poll_ms / 1000)
    finally:
        pubsub.close()


def renew(r, prefix, name, token, ttl_ms):
    return {"renewed": run(r, script(DOC, "renew (extend)"), [key(C, "lock", prefix=prefix, name=name)], [token, _lease_ms(ttl_ms)]) == 1}


def release(r, prefix, name, token):
    keys = [key(C, "lock", prefix=prefix, name=name), key(C, "released-channel", prefix=prefix, name=name)]
    return {"released": run(r, script(DOC, "release"), keys, [token]) == 1}
