// Brings the catalogue schema up to date: the numbered plain-SQL files in ./migrations are
// applied in order, each in its own transaction together with its row in `schema_migrations`.
// Forward only. An advisory lock serialises coordinators starting at once. A database that has
// a migration this code does not know (a newer coordinator ran) is refused, not guessed at.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Catalogue } from './connect-catalogue.js';
import { CatalogueError, classifyCatalogueError } from './catalogue-errors.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Arbitrary but fixed: the advisory lock key of schema changes ("dcmigr" in ASCII). */
const MIGRATION_LOCK_KEY = 0x64636d696772;

export interface Migration {
  version: number;
  name: string;
  file: string;
}

export interface MigrationReport {
  applied: Migration[];
  /** The schema version after the run. */
  version: number;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Lists the migration files, checking they are numbered 1, 2, 3… without gaps. */
export async function listMigrations(folder = MIGRATIONS_FOLDER): Promise<Migration[]> {
  const names = (await readdir(folder)).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const match = FILE_PATTERN.exec(name);
    if (!match) throw new CatalogueError('MIGRATION_INVALID', `migration file ${name} in ${folder} is not named NNNN_name.sql`);
    const version = Number(match[1]);
    if (version !== migrations.length + 1) {
      throw new CatalogueError('MIGRATION_INVALID', `migration ${name} in ${folder}: expected number ${migrations.length + 1}, the files must be numbered without gaps`);
    }
    migrations.push({ version, name: match[2]!, file: join(folder, name) });
  }
  return migrations;
}

export async function migrateCatalogue(sql: Catalogue, folder = MIGRATIONS_FOLDER): Promise<MigrationReport> {
  const migrations = await listMigrations(folder);
  try {
    await sql`
      create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`;
    const applied: Migration[] = [];
    for (const migration of migrations) {
      if (await applyOne(sql, migration)) applied.push(migration);
    }
    await refuseUnknown(sql, migrations.length);
    return { applied, version: migrations.length };
  } catch (error) {
    throw classifyCatalogueError(error, 'migrating the catalogue');
  }
}

async function applyOne(sql: Catalogue, migration: Migration): Promise<boolean> {
  const text = await readFile(migration.file, 'utf8');
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    const done = await tx`select 1 from schema_migrations where version = ${migration.version}`;
    if (done.length > 0) return false;
    try {
      await tx.unsafe(text);
    } catch (cause) {
      throw new CatalogueError('MIGRATION_FAILED', `migration ${migration.version} (${migration.name}) failed: ${(cause as Error).message}; nothing of it was applied`, { cause });
    }
    await tx`insert into schema_migrations (version, name) values (${migration.version}, ${migration.name})`;
    return true;
  });
}

async function refuseUnknown(sql: Catalogue, known: number): Promise<void> {
  const [row] = await sql<{ version: number | null }[]>`select max(version) as version from schema_migrations`;
  const version = row?.version ?? 0;
  if (version > known) {
    throw new CatalogueError('SCHEMA_TOO_NEW', `the catalogue is at schema version ${version} but this coordinator knows only ${known}; run a newer coordinator`);
  }
}
