// schema/service-discovery.md: register, heartbeat, deregister and resolve instances; receive change events.
import { key, script, run, checkVersion } from './schema.mjs';

const DOC = 'service-discovery.md';
const C = 'service-discovery';
const keys = (prefix, service) => {
  const input = { prefix, service };
  return {
    instances: key(C, 'instances', input), expiry: key(C, 'expiry', input), revision: key(C, 'revision', input),
    services: key(C, 'services', input), events: key(C, 'events-channel', input),
  };
};

/** The index sets an instance belongs to: dimensions tag, zone and version. */
const indexKeys = (prefix, service, instance) => {
  if (!instance) return [];
  // Read leniently, so a broken entry still leaves its index sets (schema: "Reading a payload", point 6).
  const sets = (Array.isArray(instance.tags) ? [...new Set(instance.tags.filter(isString))] : []).map((value) => ['tag', value]);
  if (isString(instance.zone)) sets.push(['zone', instance.zone]);
  if (isString(instance.version)) sets.push(['version', instance.version]);
  return sets.map(([dimension, value]) => key(C, 'index', { prefix, service, dimension, value }));
};

/** The instance payload, members in the documented order, nulls left out. */
export const instancePayload = (i) => JSON.stringify({
  v: 1, id: i.id, host: i.host, port: i.port, scheme: i.scheme ?? 'http', weight: i.weight ?? 1, tags: i.tags ?? [],
  metadata: i.metadata ?? {}, ...(i.zone != null && { zone: i.zone }), ...(i.version != null && { version: i.version }), health: i.health ?? 'passing',
});

// schema/service-discovery.md, "Reading a payload": a member absent or null is absent (optional -> default, required ->
// unreadable); a member present with any other value must have its documented type and range, or the payload is unreadable.
const isObject = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);
const isString = (x) => typeof x === 'string';
const nonEmpty = (x) => isString(x) && x.length > 0;
const integer = (min, max) => (x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
const strings = (x) => Array.isArray(x) && x.every(isString);
const stringMap = (x) => isObject(x) && Object.values(x).every(isString);
const oneOf = (...values) => (x) => values.includes(x);

function member(o, name, required, check, what) {
  const value = o[name];
  if (value === undefined || value === null) {
    if (required) throw new Error(`required member ${name} is missing or null`);
    return undefined;
  }
  if (!check(value)) throw new Error(`member ${name} is not ${what}`);
  return value;
}

function readObject(json) {
  const o = typeof json === 'string' ? JSON.parse(json) : json;
  if (!isObject(o)) throw new Error('not a JSON object');
  member(o, 'v', true, integer(1, Number.MAX_SAFE_INTEGER), 'an integer >= 1');
  checkVersion(o);
  return o;
}

/** A stored value as an object when it is one (for its index sets), else null. */
const parseLoose = (text) => {
  try { const o = JSON.parse(text); return isObject(o) ? o : null; } catch { return null; }
};

/** An instance payload (a JSON text or an already parsed value), by the reading rule; throws when it cannot be used. */
export function readInstance(field, json) {
  const i = readObject(json);
  member(i, 'id', true, nonEmpty, 'a non-empty string');
  member(i, 'host', true, nonEmpty, 'a non-empty string');
  member(i, 'port', true, integer(1, 65535), 'an integer from 1 to 65535');
  member(i, 'scheme', false, nonEmpty, 'a non-empty string');
  member(i, 'weight', false, integer(0, 2147483647), 'an integer from 0 to 2147483647');
  member(i, 'tags', false, strings, 'an array of strings');
  member(i, 'metadata', false, stringMap, 'an object of string values');
  member(i, 'zone', false, isString, 'a string');
  member(i, 'version', false, isString, 'a string');
  member(i, 'health', false, oneOf('passing', 'warning', 'critical'), 'passing, warning or critical');
  if (field != null && i.id !== field) throw new Error(`the payload's id '${i.id}' differs from its field '${field}'`);
  return i;
}

/** An event payload received on the channel of `service`, by the reading rule; throws when it cannot be used. */
export function readEvent(service, json) {
  const e = readObject(json);
  member(e, 'type', true, oneOf('registered', 'deregistered', 'expired', 'health-changed'), 'registered, deregistered, expired or health-changed');
  member(e, 'service', true, nonEmpty, 'a non-empty string');
  member(e, 'id', true, nonEmpty, 'a non-empty string');
  member(e, 'revision', true, integer(1, Number.MAX_SAFE_INTEGER), 'an integer >= 1');
  member(e, 'at', true, integer(0, 253402300799999), 'an instant from 0 to 253402300799999');
  if (e.type === 'registered' || e.type === 'health-changed') {
    member(e, 'instance', true, () => true, 'an instance');
    try { readInstance(e.id, e.instance); } catch (err) { throw new Error(`member instance: ${err.message}`); }
  }
  if (e.service !== service) throw new Error(`the event names service '${e.service}'`);
  return e;
}

export async function register(redis, prefix, service, instance, ttlMs) {
  const k = keys(prefix, service);
  const json = instancePayload(instance);
  let expected = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const old = expected === '' ? [] : indexKeys(prefix, service, parseLoose(expected));
    const [code, value] = await run(redis, script(DOC, 'register'),
      [k.instances, k.expiry, k.revision, ...old, ...indexKeys(prefix, service, instance)],
      [instance.id, expected, json, ttlMs, old.length, k.events, JSON.stringify(service), JSON.stringify(instance.id)]);
    if (code === -1) { expected = value; continue; }
    await run(redis, script(DOC, 'touch-service'), [k.services], [service]);
    return { written: code === 1, revision: code === 1 ? value : null };
  }
  throw new Error(`register ${service}/${instance.id}: the stored value kept changing`);
}

export async function heartbeat(redis, prefix, service, id, ttlMs) {
  const k = keys(prefix, service);
  return { renewed: (await run(redis, script(DOC, 'heartbeat'), [k.instances, k.expiry], [id, ttlMs])) === 1 };
}

export async function deregister(redis, prefix, service, id) {
  const k = keys(prefix, service);
  for (let attempt = 0; attempt < 5; attempt++) {
    const stored = await redis.hget(k.instances, id);
    if (stored === null) return { removed: false };
    const code = await run(redis, script(DOC, 'remove'), [k.instances, k.expiry, k.revision, ...indexKeys(prefix, service, parseLoose(stored))],
      [id, stored, 'deregistered', k.events, JSON.stringify(service), JSON.stringify(id)]);
    if (code !== -1) return { removed: code === 1 };
  }
  throw new Error(`deregister ${service}/${id}: the stored value kept changing`);
}

/** The live instances (load script); an unreadable entry is reported on stderr and skipped. */
export async function resolve(redis, prefix, service) {
  const k = keys(prefix, service);
  const [revision, flat] = await run(redis, script(DOC, 'load'), [k.instances, k.expiry, k.revision], []);
  const instances = [];
  for (let i = 0; i < flat.length; i += 2) {
    try { instances.push(readInstance(flat[i], flat[i + 1])); } catch (e) { console.error(`skipped ${k.instances} ${flat[i]}: ${e.message}`); }
  }
  return { revision: Number(revision), instances };
}

/** Subscribes to the service's events channel; calls onReady once subscribed, resolves with the first `count` events. */
export async function watch(subscriber, prefix, service, count, timeoutMs, onReady) {
  const channel = keys(prefix, service).events;
  const events = [];
  await subscriber.subscribe(channel);
  onReady();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ complete: false, events }), timeoutMs);
    subscriber.on('message', (ch, message) => {
      if (ch !== channel) return;
      try {
        events.push(readEvent(service, message));
      } catch (err) { console.error(`skipped event on ${ch}: ${err.message}`); }
      if (events.length >= count) { clearTimeout(timer); resolve({ complete: true, events }); }
    });
  });
}
