// schema/domain-events.md: publish CloudEvents on a stream, consume them through a consumer group with ack.
import { randomUUID } from 'node:crypto';
import { key, script, run } from './schema.mjs';

const DOC = 'domain-events.md';
const C = 'domain-events';
const MAX_STREAM = 1_000_000;
const MAX_DEAD_LETTERS = 100_000;
const WINDOW_MS = 24 * 3600 * 1000;

/** The CloudEvent JSON, members in the documented order, absent ones left out. */
export function cloudEvent({ id = randomUUID(), source, type, subject, time = new Date().toISOString(), data }) {
  return JSON.stringify({
    specversion: '1.0', id, source, type, ...(data !== undefined && { datacontenttype: 'application/json' }),
    ...(subject != null && { subject }), time, ...(data !== undefined && { data }),
  });
}

export async function publish(redis, prefix, stream, event) {
  const json = cloudEvent(event);
  const entryId = await redis.xadd(key(C, 'stream', { prefix, stream }), '*', 'v', '1', 'event', json);
  return { entryId, event: JSON.parse(json) };
}

/** Checks a CloudEvent as the document's consumers do; returns the error naming the attribute, or null. */
export function invalidCloudEvent(e) {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'event is not a JSON object';
  if (e.specversion !== '1.0') return `specversion ${JSON.stringify(e.specversion)} is not 1.0`;
  for (const a of ['id', 'source', 'type']) if (typeof e[a] !== 'string' || e[a] === '') return `attribute '${a}' is missing or not a string`;
  for (const a of OPTIONAL) if (e[a] !== undefined && e[a] !== null && typeof e[a] !== 'string') return `attribute '${a}' must be a string`;
  if (e.data !== undefined && e.data !== null && e.data_base64 !== undefined && e.data_base64 !== null) return "both 'data' and 'data_base64'";
  for (const [name, value] of Object.entries(e)) {
    if (KNOWN.includes(name) || value === null) continue;
    if (!/^[a-z0-9]{1,20}$/.test(name)) return `extension name '${name}' is not valid`;
    if (typeof value === 'object') return `extension '${name}' must be a string, number or boolean`;
  }
  return null;
}
const OPTIONAL = ['datacontenttype', 'dataschema', 'subject', 'time', 'traceparent', 'data_base64'];
const KNOWN = ['specversion', 'id', 'source', 'type', 'data', ...OPTIONAL];

/** The handled marker; group and source carry their UTF-8 byte length so the key is injective. */
export const handledKey = (prefix, stream, group, source, id) => key(C, 'handled', {
  prefix, stream, group, grouplength: Buffer.byteLength(group), source, sourcelength: Buffer.byteLength(source), id,
});

async function ensureGroup(redis, streamKey, group) {
  try { await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM'); } catch (e) { if (!String(e.message).startsWith('BUSYGROUP')) throw e; }
}

/** Reads new entries as `group`/`consumer` until `count` events are handled or the time is up; acks each handled one. */
export async function consume(redis, prefix, stream, group, consumer, count, timeoutMs) {
  const streamKey = key(C, 'stream', { prefix, stream });
  await ensureGroup(redis, streamKey, group);
  const deadline = Date.now() + timeoutMs;
  const events = [];
  const deadLetters = [];
  while (events.length < count && Date.now() < deadline) {
    const reply = await redis.xreadgroup('GROUP', group, consumer, 'COUNT', 10, 'BLOCK', Math.max(1, Math.min(100, deadline - Date.now())), 'STREAMS', streamKey, '>');
    for (const [, entries] of reply ?? []) {
      for (const [entryId, fields] of entries) {
        const f = {};
        for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
        let event = null;
        let problem = null;
        if (f.v !== '1' || f.event === undefined) problem = /^\d+$/.test(f.v ?? '') && Number(f.v) > 1 ? ['unknown-version', `schema version ${f.v} is not known to this reader, which knows 1`] : ['malformed', 'entry has no v 1 or no event'];
        else {
          try { event = JSON.parse(f.event); } catch (e) { problem = ['malformed', e.message]; }
          const invalid = problem ? null : invalidCloudEvent(event);
          if (invalid) problem = ['malformed', invalid];
        }
        if (problem) {
          const letter = JSON.stringify({ v: 1, stream, group, consumer, entryId, attempts: 1, reason: problem[0], error: problem[1] });
          await run(redis, script(DOC, 'Dead letter what is still ours'), [streamKey, key(C, 'dead-letter', { prefix, stream })], [group, entryId, MAX_DEAD_LETTERS, letter, f.event ?? '', consumer]);
          deadLetters.push({ entryId, reason: problem[0] });
          continue;
        }
        const handled = handledKey(prefix, stream, group, event.source, event.id);
        if (await redis.exists(handled)) { await redis.xack(streamKey, group, entryId); continue; }
        await run(redis, script(DOC, 'Mark handled, then acknowledge'), [streamKey, handled], [group, entryId, WINDOW_MS]);
        events.push({ entryId, event });
      }
    }
  }
  return { complete: events.length >= count, events, deadLetters };
}

export async function pending(redis, prefix, stream, group) {
  const [count] = await redis.xpending(key(C, 'stream', { prefix, stream }), group);
  return { pending: Number(count) };
}

/** The retention rule: trims entries every group acknowledged once the stream is over its length; a hard cap only when given. */
export async function trim(redis, prefix, stream, maxLength = MAX_STREAM, hardCap = 0) {
  const [acknowledged, dropped, firstDropped, firstKept] = await run(redis, script(DOC, 'Trim acknowledged entries'), [key(C, 'stream', { prefix, stream })], [maxLength, hardCap]);
  return { acknowledged: Number(acknowledged), dropped: Number(dropped), firstDropped, firstKept };
}
