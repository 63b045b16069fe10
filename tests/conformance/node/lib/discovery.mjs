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
  const sets = (instance.tags ?? []).map((value) => ['tag', value]);
  if (instance.zone != null) sets.push(['zone', instance.zone]);
  if (instance.version != null) sets.push(['version', instance.version]);
  return sets.map(([dimension, value]) => key(C, 'index', { prefix, service, dimension, value }));
};

/** The instance payload, members in the documented order, nulls left out. */
export const instancePayload = (i) => JSON.stringify({
  v: 1, id: i.id, host: i.host, port: i.port, scheme: i.scheme ?? 'http', weight: i.weight ?? 1, tags: i.tags ?? [],
  metadata: i.metadata ?? {}, ...(i.zone != null && { zone: i.zone }), ...(i.version != null && { version: i.version }), health: i.health ?? 'passing',
});

export function readInstance(field, json) {
  const i = JSON.parse(json);
  checkVersion(i);
  if (typeof i.id !== 'string' || typeof i.host !== 'string' || !Number.isInteger(i.port)) throw new Error(`instance ${field}: id, host or port missing`);
  return i;
}

export async function register(redis, prefix, service, instance, ttlMs) {
  const k = keys(prefix, service);
  const json = instancePayload(instance);
  let expected = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const old = expected === '' ? [] : indexKeys(prefix, service, JSON.parse(expected));
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
    const code = await run(redis, script(DOC, 'remove'), [k.instances, k.expiry, k.revision, ...indexKeys(prefix, service, JSON.parse(stored))],
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
        const e = JSON.parse(message);
        checkVersion(e);
        events.push(e);
      } catch (err) { console.error(`skipped event on ${ch}: ${err.message}`); }
      if (events.length >= count) { clearTimeout(timer); resolve({ complete: true, events }); }
    });
  });
}
