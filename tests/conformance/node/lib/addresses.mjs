// schema/service-addresses.md: publish and load an environment's registry, claim a host:port.
import { key, script, run, checkVersion, holderToken } from './schema.mjs';

const DOC = 'service-addresses.md';
const keys = (prefix, environment) => {
  const input = { prefix, environment: environment.toLowerCase() };
  return { registry: key('service-addresses', 'registry', input), revision: key('service-addresses', 'revision', input), changed: key('service-addresses', 'changed-channel', input) };
};

/** The effective registry of an environment from a registry file (JSON form), as the document's steps 1-3 say. */
export function effectiveRegistry(file, environment) {
  const env = environment.toLowerCase();
  const overrides = Object.entries(file.environments ?? {}).find(([name]) => name.toLowerCase() === env)?.[1] ?? {};
  const services = Object.entries(file.services).map(([name, s]) => {
    const o = overrides[name] ?? {};
    const host = o.host ?? s.host ?? 'localhost';
    const port = o.port ?? s.port;
    const scheme = o.scheme ?? s.scheme ?? 'http';
    return { name, host, port, scheme, endpoints: { [scheme]: port, ...(s.endpoints ?? {}), ...(o.endpoints ?? {}) }, dependencies: s.dependencies ?? [], tags: s.tags ?? [] };
  });
  return { v: 1, environment: env, services };
}

export async function publish(redis, prefix, environment, file) {
  const k = keys(prefix, environment);
  const payload = JSON.stringify(effectiveRegistry(file, environment));
  return { revision: await run(redis, script(DOC, 'publish'), [k.registry, k.revision], [payload, k.changed]) };
}

export async function load(redis, prefix, environment) {
  const k = keys(prefix, environment);
  const [json, revision] = await run(redis, script(DOC, 'load'), [k.registry, k.revision], []);
  if (json === null) return { revision: null, services: null };
  const registry = JSON.parse(json);
  checkVersion(registry);
  if (typeof registry.environment !== 'string' || registry.environment === '' || !Array.isArray(registry.services)) {
    throw new Error(`${k.registry}: needs an environment and a services array`);
  }
  // schema/README.md, "Reading a payload": one unreadable service is reported and skipped, its neighbours are kept.
  const services = [];
  const skipped = [];
  registry.services.forEach((s, i) => {
    const why = unreadableService(s);
    if (why) { skipped.push(`services[${i}]: ${why}`); return; }
    services.push({
      name: s.name, host: s.host, port: s.port, scheme: s.scheme,
      endpoints: s.endpoints ?? { [s.scheme]: s.port }, dependencies: s.dependencies ?? [], tags: s.tags ?? [],
    });
  });
  for (const line of skipped) console.error(`${k.registry}: skipped ${line}`);
  return { revision: revision === null ? null : Number(revision), environment: registry.environment, services, skipped };
}

// Null counts as absent; a present member of the wrong type makes the service unreadable; integers are whole numbers.
const whole = (n, min, max) => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
function unreadableService(s) {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return 'not a JSON object';
  for (const name of Object.keys(s)) if (s[name] === null) delete s[name];
  for (const name of ['name', 'host', 'scheme']) if (typeof s[name] !== 'string' || s[name] === '') return `${name}: must be a non-empty string`;
  if (!whole(s.port, 1, 65535)) return 'port: must be a whole number in 1..65535';
  if (s.endpoints !== undefined && (typeof s.endpoints !== 'object' || Array.isArray(s.endpoints)
    || !Object.values(s.endpoints).every((p) => whole(p, 1, 65535)))) return 'endpoints: must be an object of ports';
  for (const name of ['dependencies', 'tags']) {
    if (s[name] !== undefined && (!Array.isArray(s[name]) || !s[name].every((x) => typeof x === 'string'))) return `${name}: must be an array of strings`;
  }
  return null;
}

// schema/service-addresses.md, "Keys": ASCII letters lowercased, one trailing dot and IPv6 brackets removed.
export const normalizeHost = (host) => host.replace(/^\[(.+)\]$/, '$1').replace(/(.)\.$/, '$1').replace(/[A-Z]/g, (c) => c.toLowerCase());
const claimKey = (prefix, environment, host, port) => key('service-addresses', 'claim', { prefix, environment: environment.toLowerCase(), host: normalizeHost(host), port });

export async function claim(redis, prefix, environment, host, port, service, ttlMs) {
  const token = JSON.stringify({ v: 1, service, owner: holderToken() });
  const ok = await redis.set(claimKey(prefix, environment, host, port), token, 'PX', ttlMs, 'NX');
  return ok === 'OK' ? { claimed: true, token } : { claimed: false, holder: await redis.get(claimKey(prefix, environment, host, port)) };
}

export async function renewClaim(redis, prefix, environment, host, port, token, ttlMs) {
  return { renewed: (await run(redis, script(DOC, 'renew-claim'), [claimKey(prefix, environment, host, port)], [token, ttlMs])) === 1 };
}

export async function releaseClaim(redis, prefix, environment, host, port, token) {
  return { released: (await run(redis, script(DOC, 'release-claim'), [claimKey(prefix, environment, host, port)], [token])) === 1 };
}
