import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/pg-database.js';
import { listMigrations, migrateCatalogue } from './migrate-catalogue.js';

describe('migrateCatalogue', () => {
  let db: TestDatabase;
  let folder: string;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
    folder = await mkdtemp(join(tmpdir(), 'dc-migrations-'));
  });
  after(async () => {
    await db.drop();
    await rm(folder, { recursive: true, force: true });
  });

  it('applies every migration once, in order, and records it', async () => {
    const first = await migrateCatalogue(db.sql);
    const known = await listMigrations();
    assert.equal(first.version, known.length);
    assert.deepEqual(first.applied.map((m) => m.version), known.map((m) => m.version));
    const second = await migrateCatalogue(db.sql);
    assert.deepEqual(second.applied, []);
    const rows = await db.sql<{ version: number }[]>`select version from schema_migrations order by version`;
    assert.deepEqual(rows.map((r) => r.version), known.map((m) => m.version));
  });

  it('runs concurrently from two coordinators without applying anything twice', async () => {
    const reports = await Promise.all([migrateCatalogue(db.sql), migrateCatalogue(db.sql)]);
    assert.deepEqual(reports.flatMap((r) => r.applied), []);
  });

  it('rolls back a failing migration entirely and names it', async () => {
    const known = await listMigrations();
    for (const m of known) await writeFile(join(folder, `${String(m.version).padStart(4, '0')}_${m.name}.sql`), 'select 1');
    const next = String(known.length + 1).padStart(4, '0');
    await writeFile(join(folder, `${next}_broken.sql`), 'create table half_done (id int); select * from no_such_table;');
    await assert.rejects(migrateCatalogue(db.sql, folder), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'MIGRATION_FAILED');
      assert.match(error.message, new RegExp(`migration ${known.length + 1} \\(broken\\)`));
      return true;
    });
    const [exists] = await db.sql<{ t: string | null }[]>`select to_regclass('half_done')::text as t`;
    assert.equal(exists?.t, null);
  });

  it('refuses a database migrated by a newer coordinator', async () => {
    await db.sql`insert into schema_migrations (version, name) values (9999, 'from_the_future')`;
    try {
      await assert.rejects(migrateCatalogue(db.sql), /schema version 9999/);
    } finally {
      await db.sql`delete from schema_migrations where version = 9999`;
    }
  });

  it('refuses badly numbered migration files', async () => {
    const gap = await mkdtemp(join(tmpdir(), 'dc-migrations-gap-'));
    try {
      await writeFile(join(gap, '0001_a.sql'), 'select 1');
      await writeFile(join(gap, '0003_c.sql'), 'select 1');
      await assert.rejects(listMigrations(gap), /expected number 2/);
    } finally {
      await rm(gap, { recursive: true, force: true });
    }
  });
});
