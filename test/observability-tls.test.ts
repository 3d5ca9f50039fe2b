// /healthz and /metrics over HTTPS from config: a scraper trusting the CA reads them; with a
// `ca` in the config, a scraper without a client certificate, or with one from another CA, is
// refused, and plain HTTP gets no answer; without a `ca` the server starts only when the config
// says `insecure: true`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../shared/errors.js';
import { startProcessObservability, type ProcessObservability } from '../shared/observability/index.js';
import { makeTestPki, requireOpenssl, type TestPki } from './support/storage-tls.js';


function getHttps(port: number, path: string, pki: TestPki, client?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, ca: readFileSync(pki.ca), ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('observability server over TLS', () => {
  before(requireOpenssl);
  let folder: string;
  let pki: TestPki;
  const open: ProcessObservability[] = [];

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'deltachain-observability-tls-'));
    pki = await makeTestPki(folder);
  });
  after(async () => {
    for (const o of open) await o.close();
    await rm(folder, { recursive: true, force: true });
  });

  test('HTTPS without client certificates only when insecure says so', async () => {
    await assert.rejects(
      startProcessObservability({ role: 'r', version: 'v', config: { listen: '127.0.0.1:0', tls: { cert: pki.serverCert, key: pki.serverKey } } }),
      (e: unknown) => e instanceof ConfigError && /metrics\.tls: a server without a CA would serve anyone/.test(e.message),
    );
    const o = await startProcessObservability({ role: 'r', version: 'v', config: { listen: '127.0.0.1:0', tls: { cert: pki.serverCert, key: pki.serverKey, insecure: true } } });
    open.push(o);
    o.setPhase('ready');
    assert.equal(o.server!.scheme, 'https');
    const health = await getHttps(o.server!.port, '/healthz', pki);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    assert.match((await getHttps(o.server!.port, '/metrics', pki)).body, /deltachain_build_info/);
  });

  test('with a CA: a client certificate it signed is required', async () => {
    const o = await startProcessObservability({ role: 'r', version: 'v', config: { listen: '127.0.0.1:0', tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } } });
    open.push(o);
    const port = o.server!.port;
    assert.equal((await getHttps(port, '/metrics', pki, { cert: pki.clientCert, key: pki.clientKey })).status, 200);
    await assert.rejects(getHttps(port, '/metrics', pki), /certificate|socket hang up|ECONNRESET|alert/i);
    await assert.rejects(getHttps(port, '/metrics', pki, { cert: pki.strangerCert, key: pki.strangerKey }), /certificate|socket hang up|ECONNRESET|alert/i);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 5000 }, resolve);
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end();
      }),
      /socket hang up|ECONNRESET|timed out|parse/i,
    );
  });

  test('an unreadable certificate is a config error naming the field', async () => {
    await assert.rejects(
      startProcessObservability({ role: 'r', version: 'v', config: { listen: '127.0.0.1:0', tls: { cert: join(folder, 'missing.pem'), key: pki.serverKey, ca: pki.ca } } }),
      (e: unknown) => e instanceof ConfigError && /metrics\.tls\.cert: cannot read .*missing\.pem/.test(e.message),
    );
  });
});
