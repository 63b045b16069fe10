// One operation of the schema per call, for the conformance driver (tests/Lilith.Conformance.Tests):
//   node cli.mjs <command> --url redis://host:port --prefix <prefix> [--options]
// Prints one JSON line with the result (commands that subscribe print {"subscribed":true} first).
// Exit 0 on success, 1 when a bounded wait ended without what it waited for, 2 on an error.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import * as addresses from './lib/addresses.mjs';
import * as discovery from './lib/discovery.mjs';
import * as lock from './lib/lock.mjs';
import * as breaker from './lib/breaker.mjs';
import * as events from './lib/events.mjs';

const [command, ...rest] = process.argv.slice(2);
const { values: o } = parseArgs({
  args: rest,
  options: Object.fromEntries(['url', 'prefix', 'env', 'file', 'host', 'port', 'service', 'ttl', 'token', 'id', 'zone', 'tags', 'version',
    'count', 'timeout-ms', 'name', 'wait-ms', 'breaker', 'state', 'break-ms', 'opens', 'instance', 'stream', 'type', 'source',
    'subject', 'data', 'group', 'consumer', 'max-poll-ms', 'kind', 'quorum', 'fraction', 'window-ms'].map((n) => [n, { type: 'string' }])),
});
const int = (name, fallback) => (o[name] === undefined ? fallback : Number.parseInt(o[name], 10));
const prefix = o.prefix ?? 'lilith';
const redis = new Redis(o.url ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 2 });
const subscriber = () => redis.duplicate();
const say = (value) => console.log(JSON.stringify(value));

const commands = {
  'addresses-publish': () => addresses.publish(redis, prefix, o.env, JSON.parse(readFileSync(o.file, 'utf8'))),
  'addresses-load': () => addresses.load(redis, prefix, o.env),
  'addresses-claim': () => addresses.claim(redis, prefix, o.env, o.host, int('port'), o.service, int('ttl', 30000)),
  'addresses-renew-claim': () => addresses.renewClaim(redis, prefix, o.env, o.host, int('port'), o.token, int('ttl', 30000)),
  'addresses-release-claim': () => addresses.releaseClaim(redis, prefix, o.env, o.host, int('port'), o.token),
  'discovery-register': () => discovery.register(redis, prefix, o.service, {
    id: o.id, host: o.host, port: int('port'), tags: o.tags ? o.tags.split(',') : [], zone: o.zone, version: o.version,
  }, int('ttl', 15000)),
  'discovery-heartbeat': () => discovery.heartbeat(redis, prefix, o.service, o.id, int('ttl', 15000)),
  'discovery-deregister': () => discovery.deregister(redis, prefix, o.service, o.id),
  'discovery-resolve': () => discovery.resolve(redis, prefix, o.service),
  'discovery-watch': () => discovery.watch(subscriber(), prefix, o.service, int('count', 1), int('timeout-ms', 10000), () => say({ subscribed: true })),
  'lock-acquire': () => (o['wait-ms'] ? lock.acquireWaiting(redis, subscriber(), prefix, o.name, int('ttl', 30000), int('wait-ms'), () => say({ subscribed: true }), int('max-poll-ms', 500))
    : lock.acquire(redis, prefix, o.name, int('ttl', 30000))),
  'lock-renew': () => lock.renew(redis, prefix, o.name, o.token, int('ttl', 30000)),
  'lock-release': () => lock.release(redis, prefix, o.name, o.token),
  'breaker-write': () => breaker.write(redis, prefix, o.breaker, { state: o.state, breakDurationMs: int('break-ms'), opens: int('opens', 0), instance: o.instance }),
  'breaker-read': () => breaker.read(redis, prefix, o.breaker),
  'breaker-wait': () => breaker.waitFor(redis, prefix, o.breaker, o.state, int('timeout-ms', 10000)),
  'breaker-probe': () => breaker.tryProbe(redis, prefix, o.breaker, o.instance, int('ttl', 10000)),
  'breaker-renew-probe': () => breaker.renewProbe(redis, prefix, o.breaker, o.instance, int('ttl', 10000)),
  'breaker-report': () => breaker.report(redis, prefix, o.breaker, {
    instance: o.instance, kind: o.kind, instances: int('quorum', 2), fraction: Number(o.fraction ?? 0), windowMs: int('window-ms', 60000),
    breakDurationMs: int('break-ms', 30000), opens: int('opens', 1),
  }),
  'events-publish': () => events.publish(redis, prefix, o.stream, { id: o.id, source: o.source, type: o.type, subject: o.subject, data: o.data === undefined ? undefined : JSON.parse(o.data) }),
  'events-consume': () => events.consume(redis, prefix, o.stream, o.group, o.consumer ?? `node-${process.pid}`, int('count', 1), int('timeout-ms', 10000)),
  'events-pending': () => events.pending(redis, prefix, o.stream, o.group),
};

if (!commands[command]) {
  console.error(`unknown command '${command}'; commands: ${Object.keys(commands).join(', ')}`);
  process.exit(2);
}
try {
  await redis.connect();
  const result = await commands[command]();
  say(result);
  process.exitCode = result.complete === false ? 1 : 0;
} catch (e) {
  console.error(`${command}: ${e.stack ?? e}`);
  process.exitCode = 2;
} finally {
  process.exit(process.exitCode);
}
