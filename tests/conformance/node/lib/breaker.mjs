// schema/circuit-breaker.md: write and read the shared breaker state.
import { key, script, run, checkVersion } from './schema.mjs';

const DOC = 'circuit-breaker.md';
const C = 'circuit-breaker';
const STATES = ['closed', 'open', 'half-open', 'isolated'];
export const DEFAULT_STATE_TTL_MS = 3_600_000;

/** The state payload in two halves around changedAt, which the scripts fill from the Redis clock. */
function halves(breaker, { state, breakDurationMs, opens, instance }) {
  if (!STATES.includes(state)) throw new Error(`unknown breaker state '${state}'`);
  const head = `{"v":1,"breaker":${JSON.stringify(breaker)},"state":${JSON.stringify(state)},"changedAt":`;
  const tail = JSON.stringify({ ...(state === 'open' && { breakDurationMs }), opens, ...(instance != null && { instance }) }).replace(/^\{/, ',');
  return [head, tail];
}

/** write-state: the payload in two halves around changedAt, which the script fills from the Redis clock. */
export async function write(redis, prefix, breaker, { state, breakDurationMs, opens, instance, releaseProbe = false, stateTtlMs = DEFAULT_STATE_TTL_MS }) {
  const [head, tail] = halves(breaker, { state, breakDurationMs, opens, instance });
  const ttl = stateTtlMs + (state === 'open' ? breakDurationMs : 0);
  const changedAt = await run(redis, script(DOC, 'write-state'),
    [key(C, 'state', { prefix, breaker }), key(C, 'probe', { prefix, breaker })],
    [head, tail, ttl, key(C, 'changed-channel', { prefix }), instance ?? '', releaseProbe ? '1' : '0']);
  return { changedAt };
}

/** Validates a state payload as the document's readers do; throws naming what is wrong. */
export function readPayload(json) {
  const s = JSON.parse(json);
  checkVersion(s);
  if (typeof s.breaker !== 'string' || !STATES.includes(s.state) || !Number.isInteger(s.changedAt) || !Number.isInteger(s.opens)) {
    throw new Error(`breaker state payload lacks breaker, state, changedAt or opens: ${json}`);
  }
  if (s.state === 'open' && !(s.breakDurationMs > 0)) throw new Error(`open breaker state without a positive breakDurationMs: ${json}`);
  return s;
}

/** read-state: the payload and the server's now, so retryAfter needs no host clock. */
export async function read(redis, prefix, breaker) {
  const [json, now] = await run(redis, script(DOC, 'read-state'), [key(C, 'state', { prefix, breaker })], []);
  if (json === null) return { state: null };
  const s = readPayload(json);
  return { ...s, retryAfterMs: s.state === 'open' ? Math.max(0, s.changedAt + s.breakDurationMs - now) : 0 };
}

/** Reads until the breaker shows `state` (or the time is up), as the document's periodic read-state does. */
export async function waitFor(redis, prefix, breaker, state, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await read(redis, prefix, breaker);
    if (s.state === state || Date.now() >= deadline) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function tryProbe(redis, prefix, breaker, instance, leaseMs) {
  return { probe: (await redis.set(key(C, 'probe', { prefix, breaker }), instance, 'PX', leaseMs, 'NX')) === 'OK' };
}

/** renew-probe: extends the lease only for its holder. */
export async function renewProbe(redis, prefix, breaker, instance, leaseMs) {
  return { renewed: (await run(redis, script(DOC, 'renew-probe'), [key(C, 'probe', { prefix, breaker })], [instance, leaseMs])) === 1 };
}

/**
 * report: a quorum report (alive, trip or recover). A trip sends the open state it would write; the script writes and
 * announces it when this trip completes the quorum of max(instances, ceil(fraction * live)) distinct trips within the window.
 */
export async function report(redis, prefix, breaker, { instance, kind, instances, fraction = 0, windowMs, breakDurationMs, opens = 1, stateTtlMs = DEFAULT_STATE_TTL_MS }) {
  if (!['alive', 'trip', 'recover'].includes(kind)) throw new Error(`unknown report kind '${kind}'`);
  const [head, tail] = kind === 'trip' ? halves(breaker, { state: 'open', breakDurationMs, opens, instance }) : ['', ''];
  const [opened, trips, required, now] = await run(redis, script(DOC, 'report'),
    [key(C, 'trips', { prefix, breaker }), key(C, 'members', { prefix, breaker }), key(C, 'state', { prefix, breaker })],
    [instance, kind, windowMs, instances, fraction, head, tail, kind === 'trip' ? stateTtlMs + breakDurationMs : 0, key(C, 'changed-channel', { prefix })]);
  return { opened: opened === 1, trips, required, reportedAt: now };
}
