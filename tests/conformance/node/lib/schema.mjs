// What every concern module needs from schema/: key patterns from redis-schema.json, Lua scripts taken verbatim
// from the concern's document, the Redis clock rule and a script runner (EVALSHA, falling back to EVAL).
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const schemaDir = process.env.LILITH_SCHEMA_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'schema');
const schema = JSON.parse(readFileSync(join(schemaDir, 'redis-schema.json'), 'utf8'));
export const schemaVersion = schema.schemaVersion;

/** Builds a key or channel of a concern from its pattern in redis-schema.json. */
export function key(concern, id, input) {
  const spec = schema.concerns[concern]?.keys?.[id];
  if (!spec) throw new Error(`redis-schema.json has no key '${id}' under concern '${concern}'`);
  return spec.pattern.replace(/<([a-z]+)>/g, (_, name) => {
    if (input[name] === undefined) throw new Error(`key ${concern}.${id} needs '${name}'`);
    return String(input[name]);
  });
}

const scripts = new Map();
/** The Lua block under the heading "### <heading>" of schema/<document>, verbatim. */
export function script(document, heading) {
  const id = `${document}#${heading}`;
  if (!scripts.has(id)) {
    const text = readFileSync(join(schemaDir, document), 'utf8');
    const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const match = new RegExp(`^### ${escaped}[^\\n]*\\n[\\s\\S]*?\`\`\`lua\\n([\\s\\S]*?)\`\`\``, 'm').exec(text);
    if (!match) throw new Error(`schema/${document} has no Lua script under '### ${heading}'`);
    scripts.set(id, { lua: match[1], sha: createHash('sha1').update(match[1]).digest('hex') });
  }
  return scripts.get(id);
}

/** Runs a documented script with EVALSHA, falling back to EVAL on NOSCRIPT. */
export async function run(redis, { lua, sha }, keys, args) {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args.map(String));
  } catch (e) {
    if (!String(e.message).startsWith('NOSCRIPT')) throw e;
    return redis.eval(lua, keys.length, ...keys, ...args.map(String));
  }
}

/** Refuses a payload of a schema version this reader does not know, with the message schema/README.md gives. */
export function checkVersion(payload) {
  if (typeof payload.v !== 'number' || !Number.isInteger(payload.v)) throw new Error('payload has no integer "v"');
  if (payload.v > schemaVersion) throw new Error(`schema version ${payload.v} is not known to this reader, which knows ${schemaVersion}`);
}

/** A holder token as schema/distributed-lock.md describes it: <language>:<host>:<pid>:<32 hex>. */
export const holderToken = () =>
  `node:${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64)}:${process.pid}:${randomBytes(16).toString('hex')}`;
