// Migration 0004 on a catalogue an older coordinator left with two active runs of one policy
// (what the one-active-run index forbids from then on): the oldest stays attached, the newer is
// detached from the policy id but kept, and the index holds afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/pg-database.js';
import { listMigrations, migrateCatalogue } from './migrate-catalogue.js';

describe('migration 0004: one active run per policy', () => {
  let db: TestDatabase;
  let before3: string;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
    before3 = await mkdtemp(join(tmpdir(), 'dc-migrations-0003-'));
    for (const m of (await listMigrations()).filter((m) => m.version <= 3)) await copyFile(m.file, join(before3, basename(m.file)));
  });
  after(async () => {
    await db.drop();
    await rm(before3, { recursive: true, force: true });
  });

  it('keeps the oldest active run of a policy attached, detaches the newer, then refuses a second', async () => {
    assert.equal((await migrateCatalogue(db.sql, before3)).version, 3);
    const policy = randomUUID();
    await db.sql`insert into policies (id, name, pool_names, schedule, time_zone, retention, full_interval, concurrency)
                 values (${policy}, 'nightly', '{lab}', '0 2 * * *', 'UTC', 3, 0, 2)`;
    const [older, newer] = [randomUUID(), randomUUID()];
    await db.sql`insert into runs (id, policy_id, policy_name, scheduled_at, trigger, state, created_at) values
      (${older}, ${policy}, 'nightly', '2024-06-01T02:00:00Z', 'schedule', 'running', '2024-06-01T02:00:01Z'),
      (${newer}, ${policy}, 'nightly', '2024-06-01T02:00:05Z', 'manual', 'pending', '2024-06-01T02:00:05Z')`;
    await migrateCatalogue(db.sql);
    const runs = await db.sql<{ id: string; policyId: string | null; policyName: string }[]>`select id, policy_id, policy_name from runs order by created_at`;
    assert.deepEqual(runs.map((r) => [r.id, r.policyId, r.policyName]), [[older, policy, 'nightly'], [newer, null, 'nightly']]);
    await assert.rejects(
      db.sql`insert into runs (id, policy_id, policy_name, scheduled_at, trigger) values (${randomUUID()}, ${policy}, 'nightly', now(), 'manual')`,
      /runs_one_active_per_policy/,
    );
    await db.sql`insert into runs (id, policy_id, policy_name, scheduled_at, trigger, state, finished_at) values (${randomUUID()}, ${policy}, 'nightly', now(), 'schedule', 'skipped', now())`;
  });
});
