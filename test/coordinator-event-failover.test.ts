// The coordinators' shared event consumer when the active one dies, on a real nats-server: an
// event the dead coordinator took and never acknowledged reaches the next active one after the
// consumer's ack wait (EVENT_ACK_WAIT_SECONDS, 15 s: a run's follow-ups wait for such events after a
// takeover); and an event whose batch takes longer than the ack wait to apply is kept in progress,
// not delivered twice.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EventConsumer, EVENT_ACK_WAIT_SECONDS } from '../coordinator/events/event-consumer.js';
import type { AgentEvent } from '../coordinator/events/agent-event.js';
import { connectNats, natsSchema, publishEvent } from '../shared/nats/index.js';
import { createLogger } from '../shared/logging/index.js';
import { startTestNats, testNatsSection, type TestNats } from './support/storage-nats.js';
import { waitFor } from './support/deploy-processes.js';

const logger = createLogger({ level: 'silent' });
const SENDER = { role: 'storage', scope: 'failover', agent: 'storage-failover' } as const;
const progress = { $case: 'progress', value: { phase: 'scan', done: 1, total: 2, unit: 'files', attempt: 1 } } as const;

describe('the event consumer across a coordinator that dies', { timeout: 90_000 }, () => {
  let nats: TestNats;
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    nats = await startTestNats();
  });
  after(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
    await nats?.close();
  });

  it(`an event the dead coordinator took and never acknowledged reaches the next one within the ack wait (${EVENT_ACK_WAIT_SECONDS} s)`, async () => {
    // Coordinator A: its own connection; it takes the event and never finishes applying it.
    const ncA = await connectNats(natsSchema.parse(testNatsSection(nats.namespace)), 'deltachain-test-a');
    let releaseA!: () => void;
    const stuck = new Promise<void>((resolve) => (releaseA = resolve));
    const takenByA: string[] = [];
    const a = new EventConsumer({ nc: ncA, names: nats.names, logger, handleBatch: async (events) => (takenByA.push(...events.map((e) => e.eventId)), await stuck, events.map(() => undefined)) });
    await a.start();
    stops.push(async () => (releaseA(), await a.stop()));
    const { eventId } = await publishEvent(nats.nc, nats.names, SENDER, randomUUID(), progress);
    await waitFor('coordinator A to take the event', () => takenByA.includes(eventId), 10_000);
    // A dies: its connection gone, the event unacknowledged.
    await ncA.close();
    const diedAt = Date.now();
    const appliedByB: AgentEvent[] = [];
    const b = new EventConsumer({ nc: nats.nc, names: nats.names, logger, handleBatch: async (events) => (appliedByB.push(...events), events.map(() => undefined)) });
    await b.start();
    stops.push(() => b.stop());
    await waitFor('coordinator B to apply the event A never acknowledged', () => appliedByB.some((e) => e.eventId === eventId), (EVENT_ACK_WAIT_SECONDS + 20) * 1000);
    const after = Date.now() - diedAt;
    assert.ok(after <= (EVENT_ACK_WAIT_SECONDS + 5) * 1000, `B applied it ${after} ms after A died: within the ack wait (${EVENT_ACK_WAIT_SECONDS} s)`);
  });

  it('an event whose batch takes longer than the ack wait to apply is kept in progress and applied once', async () => {
    const fresh = await startTestNats();
    stops.push(() => fresh.close());
    const applied: string[] = [];
    const consumer = new EventConsumer({
      nc: fresh.nc,
      names: fresh.names,
      logger,
      ackWaitSeconds: 2,
      handleBatch: async (events) => {
        applied.push(...events.map((e) => e.eventId));
        await new Promise((resolve) => setTimeout(resolve, 5000)); // 2.5 × the ack wait
        return events.map(() => undefined);
      },
    });
    await consumer.start();
    stops.push(() => consumer.stop());
    const first = await publishEvent(fresh.nc, fresh.names, SENDER, randomUUID(), progress);
    const second = await publishEvent(fresh.nc, fresh.names, SENDER, randomUUID(), progress);
    await waitFor('both events applied', () => applied.includes(first.eventId) && applied.includes(second.eventId), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.deepEqual(applied, [first.eventId, second.eventId], 'each applied once, in order: the one waiting in the buffer too');
  });
});
