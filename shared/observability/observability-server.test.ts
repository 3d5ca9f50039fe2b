import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.js';
import { HealthChecks } from './health-checks.js';
import { startObservabilityServer } from './observability-server.js';
import { ProcessMetrics } from './process-metrics.js';
import { startProcessObservability } from './process-observability.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(address: string, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${address}${path}`, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('observability server (real HTTP on loopback)', () => {
  it('/healthz: 503 while starting, 200 when ready, 503 when a component fails or the process stops', async () => {
    const observability = await startProcessObservability({ role: 'test-role', version: '1.2.3', config: { listen: '127.0.0.1:0' } });
    let natsUp = true;
    observability.health.add('nats', () => ({ ok: natsUp, detail: natsUp ? 'connected' : 'closed' }));
    const address = observability.server!.address;
    try {
      let reply = await get(address, '/healthz');
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['content-type'], 'application/json');
      assert.equal(JSON.parse(reply.body).phase, 'starting');

      observability.setPhase('ready');
      reply = await get(address, '/healthz');
      assert.equal(reply.status, 200);
      const report = JSON.parse(reply.body);
      assert.equal(report.status, 'ok');
      assert.equal(report.role, 'test-role');
      assert.equal(report.version, '1.2.3');
      assert.deepEqual(report.components, { nats: { ok: true, detail: 'connected' } });

      natsUp = false;
      reply = await get(address, '/healthz');
      assert.equal(reply.status, 503);
      assert.deepEqual(JSON.parse(reply.body).components.nats, { ok: false, detail: 'closed' });

      natsUp = true;
      observability.setPhase('stopping');
      assert.equal((await get(address, '/healthz')).status, 503);
      assert.match((await get(address, '/metrics')).body, /^deltachain_ready 0$/m);
    } finally {
      await observability.close();
    }
    await assert.rejects(get(address, '/healthz'), /ECONNREFUSED/);
  });

  it('/metrics: Prometheus text with default metrics, build info, readiness; refreshed per scrape', async () => {
    const observability = await startProcessObservability({ role: 'test-role', version: '1.2.3', config: { listen: '127.0.0.1:0' } });
    let scrapes = 0;
    observability.metrics.addRefresher('counter', () => void scrapes++);
    observability.setPhase('ready');
    try {
      const reply = await get(observability.server!.address, '/metrics');
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      assert.match(reply.body, /^deltachain_build_info\{role="test-role",version="1\.2\.3"\} 1$/m);
      assert.match(reply.body, /^deltachain_ready 1$/m);
      assert.match(reply.body, /^process_cpu_user_seconds_total /m);
      assert.match(reply.body, /^nodejs_heap_size_used_bytes /m);
      await get(observability.server!.address, '/metrics');
      assert.equal(scrapes, 2);
    } finally {
      await observability.close();
    }
  });

  it('a failing or hung source is counted and logged; the rest is still served', async () => {
    const metrics = new ProcessMetrics({ role: 'r', version: 'v', refreshTimeoutMs: 50 });
    metrics.addRefresher('broken', () => {
      throw new Error('catalogue unreachable');
    });
    metrics.addRefresher('hung', () => new Promise<void>(() => undefined));
    const health = new HealthChecks({ role: 'r', version: 'v' });
    const server = await startObservabilityServer({ listen: '127.0.0.1:0', health, metrics });
    try {
      const reply = await get(server.address, '/metrics');
      assert.equal(reply.status, 200);
      assert.match(reply.body, /^deltachain_metrics_refresh_failures_total\{source="broken"\} 1$/m);
      assert.match(reply.body, /^deltachain_metrics_refresh_failures_total\{source="hung"\} 1$/m);
    } finally {
      await server.close();
    }
  });

  it('HEAD works, other paths are 404, other methods 405', async () => {
    const observability = await startProcessObservability({ role: 'r', version: 'v', config: { listen: '127.0.0.1:0' } });
    const address = observability.server!.address;
    try {
      const head = await get(address, '/metrics', 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal((await get(address, '/')).status, 404);
      assert.equal((await get(address, '/metrics/x')).status, 404);
      const post = await get(address, '/healthz', 'POST');
      assert.equal(post.status, 405);
      assert.equal(post.headers['allow'], 'GET, HEAD');
    } finally {
      await observability.close();
    }
  });

  it('without a metrics section nothing listens; a taken port is a config error naming the field', async () => {
    const quiet = await startProcessObservability({ role: 'r', version: 'v' });
    assert.equal(quiet.server, undefined);
    await quiet.close();
    const first = await startProcessObservability({ role: 'r', version: 'v', config: { listen: '127.0.0.1:0' } });
    try {
      await assert.rejects(
        startProcessObservability({ role: 'r', version: 'v', config: { listen: `127.0.0.1:${first.server!.port}` } }),
        (e: unknown) => e instanceof ConfigError && /metrics\.listen 127\.0\.0\.1:\d+: .*EADDRINUSE/.test(e.message),
      );
    } finally {
      await first.close();
    }
  });
});
