import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { connectionPolicy, isLoopbackServer } from './connection-policy.js';
import { natsSchema } from './nats-config.js';

const config = (o: Record<string, unknown>) => natsSchema.parse(o);

test('loopback servers are this machine only', () => {
  for (const s of ['nats://127.0.0.1:4222', '127.0.0.1:4222', 'nats://localhost:4222', 'tls://127.9.0.1', 'nats://[::1]:4222']) assert.equal(isLoopbackServer(s), true, s);
  for (const s of ['nats://nats:4222', 'nats://10.0.0.1:4222', 'nats://127.0.0.1.example.net:4222', 'not a url at all']) assert.equal(isLoopbackServer(s), false, s);
});

test('without a seed file nothing connects unless insecure says so', () => {
  assert.throws(() => connectionPolicy(config({})), (e: unknown) => e instanceof ConfigError && /nats\.seedFile is missing: .*deltachain nats-config --help.*or set nats\.insecure: true/.test(e.message));
  assert.match(connectionPolicy(config({ insecure: true })).warnings.join('\n'), /without credentials/);
});

test('plaintext: to loopback with a warning; elsewhere only with insecure; tls always when given', () => {
  const seed = { seedFile: '/etc/deltachain/nats/coordinator.nk' };
  const loopback = connectionPolicy(config({ ...seed }));
  assert.equal(loopback.tls, undefined);
  assert.match(loopback.warnings.join('\n'), /plaintext to a loopback server/);
  assert.throws(() => connectionPolicy(config({ ...seed, servers: ['nats://127.0.0.1:4222', 'nats://nats2.example.net:4222'] })), /nats\.tls is missing and nats:\/\/nats2\.example\.net:4222 is not a loopback address/);
  assert.match(connectionPolicy(config({ ...seed, servers: ['nats://nats:4222'], insecure: true })).warnings.join('\n'), /plaintext to nats:\/\/nats:4222/);
  const tls = connectionPolicy(config({ ...seed, servers: ['nats://nats:4222'], tls: { ca: '/ca.crt', cert: '/c.crt', key: '/c.key' } }));
  assert.deepEqual(tls, { tls: { caFile: '/ca.crt', certFile: '/c.crt', keyFile: '/c.key' }, warnings: [] });
  assert.deepEqual(connectionPolicy(config({ ...seed, servers: ['nats://nats:4222'], tls: {} })).tls, {}, 'the system CAs');
  assert.throws(() => config({ ...seed, tls: { cert: '/c.crt' } }), /give both cert and key/);
});
