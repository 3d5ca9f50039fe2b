// Migration 0011 on a catalogue with policies made before the option: each of them purges the
// reference's snapshot data from then on, as a new policy does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/pg-database.js';
import { getPolicyByName } from './policies.js';
import { listMigrations, migrateCatalogue } from './migrate-catalogue.js';

describe('migration 0011: purge_snapshot_data', () => {
  let db: TestDatabase;
  let before11: string;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
    before11 = await mkdtemp(join(tmpdir(), 'dc-migrations-0010-'));
    for (const m of (await listMigrations()).filter((m) => m.version <= 10)) await copyFile(m.file, join(before11, basename(m.file)));
  });
  after(async () => {
    await db.drop();
    await rm(before11, { recursive: true, force: true });
  });

  it('turns purging on for a policy that existed before it', async () => {
    assert.equal((await migrateCatalogue(db.sql, before11)).version, 10);
    await db.sql`insert into policies (id, name, pool_names, schedule, time_zone, retention, full_interval, concurrency)
                 values (${randomUUID()}, 'nightly', '{lab}', '0 2 * * *', 'UTC', 3, 0, 2)`;
    await migrateCatalogue(db.sql);
    assert.equal((await getPolicyByName(db.sql, 'nightly')).purgeSnapshotData, true);
  });
});
