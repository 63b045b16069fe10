// Checks schema/vectors/*.json from Node.js, using only what schema/ documents:
// key patterns expand to the expected keys, prefixes and names are accepted or refused by the documented
// rules, hash slots match ioredis's own slot function, and payload JSON survives a parse/write round trip.
// Prints one line per failure and ends with "node vectors: N passed, N failed"; exits 1 on any failure.
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import calculateSlot from 'cluster-key-slot';
import { normalizeHost } from './lib/addresses.mjs';
import { invalidCloudEvent } from './lib/events.mjs';

const schemaDir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'schema');
const schema = JSON.parse(readFileSync(join(schemaDir, 'redis-schema.json'), 'utf8'));
let passed = 0;
const failures = [];
const check = (ok, what) => { if (ok) passed++; else failures.push(what); };

const expand = (pattern, input) => pattern.replace(/<([a-z]+)>/g, (_, name) => {
  if (!(name in input)) throw new Error(`pattern ${pattern} needs input ${name}`);
  return String(input[name]);
});

const prefixRule = new RegExp(schema.conventions.prefixPattern);
// Name rule of schema/README.md: 1..256 code points, no '{', no '}', no Cc control character, no lone surrogate.
const nameOk = (name) => name.length >= 1 && [...name].length <= 256 && name.isWellFormed() && !/[{}\p{Cc}]/u.test(name);

for (const file of readdirSync(join(schemaDir, 'vectors')).filter((f) => f.endsWith('.json')).sort()) {
  const vectors = JSON.parse(readFileSync(join(schemaDir, 'vectors', file), 'utf8'));
  if (vectors.concern === 'conventions') {
    for (const p of vectors.prefixes.valid) check(prefixRule.test(p), `prefix '${p}' should be valid`);
    for (const p of vectors.prefixes.invalid) check(!prefixRule.test(p), `prefix '${p}' should be invalid`);
    for (const n of vectors.names.valid) check(nameOk(n), `name '${n}' should be valid`);
    for (const n of vectors.names.invalid) check(!nameOk(n), `name ${JSON.stringify(n)} should be invalid`);
    for (const { value, json } of vectors.text ?? []) check(JSON.stringify(value) === json, `text ${json}: JSON.stringify wrote ${JSON.stringify(value)}`);
    for (const { key, slot } of vectors.hashSlots) check(calculateSlot(key) === slot, `${key}: slot ${calculateSlot(key)}, vector ${slot}`);
    continue;
  }
  for (const json of vectors.cloudEvents?.valid ?? []) check(invalidCloudEvent(JSON.parse(json)) === null, `CloudEvent ${json} should be valid`);
  for (const json of vectors.cloudEvents?.malformed ?? []) check(invalidCloudEvent(JSON.parse(json)) !== null, `CloudEvent ${json} should be malformed`);
  for (const { host, normalized } of vectors.claimHosts ?? []) {
    check(normalizeHost(host) === normalized, `claim host ${host}: normalised to ${normalizeHost(host)}, expected ${normalized}`);
  }
  const keys = schema.concerns[vectors.concern]?.keys ?? {};
  for (const v of vectors.keys ?? []) {
    const spec = keys[v.key];
    if (!spec) { check(false, `${vectors.concern}.${v.key}: not in redis-schema.json`); continue; }
    const built = expand(spec.pattern, v.input);
    check(built === v.expected, `${vectors.concern}.${v.key}: built ${built}, expected ${v.expected}`);
  }
  for (const p of vectors.payloads ?? []) {
    const written = JSON.stringify(JSON.parse(p.json));
    check(written === p.json, `${vectors.concern} payload ${p.payload}: wrote ${written}, expected ${p.json}`);
  }
}

for (const f of failures) console.log(`FAIL ${f}`);
console.log(`node vectors: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 && passed > 0 ? 0 : 1);
