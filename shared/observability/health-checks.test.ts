import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecks, isReady, type ComponentStatus, type ProcessPhase } from './health-checks.js';

describe('isReady', () => {
  const ok: ComponentStatus = { ok: true };
  const bad: ComponentStatus = { ok: false, detail: 'closed' };
  const cases: [ProcessPhase, Record<string, ComponentStatus>, boolean][] = [
    ['ready', {}, true],
    ['ready', { nats: ok, catalogue: ok }, true],
    ['ready', { nats: ok, catalogue: bad }, false],
    ['starting', { nats: ok }, false],
    ['stopping', { nats: ok }, false],
  ];
  for (const [phase, components, expected] of cases) {
    it(`${phase} with ${JSON.stringify(components)} → ${expected}`, () => assert.equal(isReady(phase, components), expected));
  }
});

describe('HealthChecks', () => {
  it('reports each component, a throw as not ok with its message, a hung check as timed out', async () => {
    let now = 1_000_000;
    const health = new HealthChecks({ role: 'test', version: '9.9.9', checkTimeoutMs: 50, now: () => now });
    health.add('fine', () => ({ ok: true, detail: 'connected' }));
    health.add('thrower', async () => {
      throw new Error('connection refused');
    });
    health.add('hung', () => new Promise<ComponentStatus>(() => undefined));
    health.setPhase('ready');
    now += 12_345;
    const report = await health.report();
    assert.deepEqual(report, {
      status: 'unavailable',
      role: 'test',
      version: '9.9.9',
      phase: 'ready',
      uptimeSeconds: 12.3,
      components: {
        fine: { ok: true, detail: 'connected' },
        thrower: { ok: false, detail: 'connection refused' },
        hung: { ok: false, detail: 'timed out after 50 ms' },
      },
    });
  });

  it('is ok only once ready, and not while stopping', async () => {
    const health = new HealthChecks({ role: 'test', version: '1' });
    health.add('fine', () => ({ ok: true }));
    assert.equal((await health.report()).status, 'unavailable');
    health.setPhase('ready');
    assert.equal((await health.report()).status, 'ok');
    health.setPhase('stopping');
    const report = await health.report();
    assert.equal(report.status, 'unavailable');
    assert.equal(report.phase, 'stopping');
  });
});
