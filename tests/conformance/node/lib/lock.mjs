// schema/distributed-lock.md: the exclusive lock with its fencing token.
import { key, script, run, holderToken } from './schema.mjs';

const DOC = 'distributed-lock.md';
const keys = (prefix, name) => ({
  lock: key('distributed-lock', 'lock', { prefix, name }),
  fence: key('distributed-lock', 'fence', { prefix, name }),
  released: key('distributed-lock', 'released-channel', { prefix, name }),
});
const leaseMs = (ttlMs) => Math.max(30, Math.ceil(ttlMs));

/** One try of the acquire script: {acquired, token, fence} or {acquired: false, pttl}. */
export async function acquire(redis, prefix, name, ttlMs) {
  const k = keys(prefix, name);
  const token = holderToken();
  const [granted, value] = await run(redis, script(DOC, 'acquire'), [k.lock, k.fence], [token, leaseMs(ttlMs)]);
  return granted === 1 ? { acquired: true, token, fence: value } : { acquired: false, pttl: value };
}

/**
 * The documented wait: subscribe to the released channel, try again on a release message or the poll pause.
 * Calls onReady once subscribed (or at once when the first try wins); the result says what woke the winning try.
 */
export async function acquireWaiting(redis, subscriber, prefix, name, ttlMs, waitMs, onReady, maxPollMs = 500) {
  const deadline = Date.now() + waitMs;
  let result = await acquire(redis, prefix, name, ttlMs);
  if (result.acquired || waitMs <= 0) { onReady(); return { ...result, wokenBy: 'first-try' }; }
  const channel = keys(prefix, name).released;
  let wake = () => {};
  subscriber.on('message', (ch) => { if (ch === channel) wake(); });
  await subscriber.subscribe(channel);
  onReady();
  let pause = 10;
  let wokenBy = 'first-try';
  try {
    for (;;) {
      result = await acquire(redis, prefix, name, ttlMs);
      const left = deadline - Date.now();
      if (result.acquired || left <= 0) return { ...result, wokenBy };
      const bound = Math.min(pause, result.pttl >= 0 ? result.pttl + 1 : pause, left);
      wokenBy = await new Promise((resolve) => {
        const t = setTimeout(() => resolve('poll'), bound);
        wake = () => { clearTimeout(t); resolve('release-message'); };
      });
      pause = Math.min(pause * 2, maxPollMs);
    }
  } finally {
    await subscriber.unsubscribe(channel);
  }
}

export async function renew(redis, prefix, name, token, ttlMs) {
  return { renewed: (await run(redis, script(DOC, 'renew (extend)'), [keys(prefix, name).lock], [token, leaseMs(ttlMs)])) === 1 };
}

export async function release(redis, prefix, name, token) {
  const k = keys(prefix, name);
  return { released: (await run(redis, script(DOC, 'release'), [k.lock, k.released], [token])) === 1 };
}
