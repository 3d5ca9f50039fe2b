import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.js';
import { metricsSchema, parseListen } from './metrics-config.js';

describe('metrics config', () => {
  it('splits host:port, IPv6 in brackets', () => {
    assert.deepEqual(parseListen('127.0.0.1:9711'), { host: '127.0.0.1', port: 9711 });
    assert.deepEqual(parseListen('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
    assert.deepEqual(parseListen('[::1]:9711'), { host: '::1', port: 9711 });
    assert.deepEqual(parseListen('metrics.example:80'), { host: 'metrics.example', port: 80 });
  });

  it('refuses what is not host:port, naming the field', () => {
    for (const bad of ['9711', '::1:9711', 'host:', 'host:99999', ' host:1']) {
      assert.throws(() => parseListen(bad), (e: unknown) => e instanceof ConfigError && /metrics\.listen/.test(e.message), bad);
    }
    assert.equal(metricsSchema.safeParse({ listen: '9711' }).success, false);
  });

  it('takes TLS as cert, key and a CA for client certificates; without the CA only when insecure says so; nothing else', () => {
    assert.ok(metricsSchema.safeParse({ listen: '0.0.0.0:9711', tls: { cert: '/c.pem', key: '/k.pem', ca: '/ca.pem' } }).success);
    assert.equal(metricsSchema.safeParse({ listen: '0.0.0.0:9711', tls: { cert: '/c.pem' } }).success, false);
    const noCa = metricsSchema.safeParse({ listen: '0.0.0.0:9711', tls: { cert: '/c', key: '/k' } });
    assert.equal(noCa.success, false);
    assert.match(JSON.stringify(noCa.error?.issues), /a server without a CA would serve anyone/);
    assert.ok(metricsSchema.safeParse({ listen: '0.0.0.0:9711', tls: { cert: '/c', key: '/k', insecure: true } }).success);
    assert.equal(metricsSchema.safeParse({ listen: '0.0.0.0:9711', tls: { cert: '/c', key: '/k', insecure: 'yes' } }).success, false);
    assert.equal(metricsSchema.safeParse({ listen: '0.0.0.0:9711', port: 1 }).success, false);
  });
});
