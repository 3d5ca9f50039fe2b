// A fresh Postgres database per test file: created with a random name on the server the tests
// use (DELTACHAIN_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres), migrated to
// the current schema, and dropped (connections closed first) when the test file is done.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { connectCatalogue, type Catalogue } from '../../coordinator/catalogue/connect-catalogue.js';
import { migrateCatalogue } from '../../coordinator/catalogue/migrate-catalogue.js';

export const ADMIN_URL = process.env.DELTACHAIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** The database's name (dc_test_<random>). */
  name: string;
  /** Connection URL of the database, for processes started by the test. */
  url: string;
  /** A catalogue connection to it (closed by drop()). */
  sql: Catalogue;
  /** Closes the connection and drops the database. */
  drop(): Promise<void>;
}

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates an empty database (no schema) and returns its name. */
export async function createEmptyDatabase(prefix = 'dc_test'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return name;
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** A migrated database of its own for one test file. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = await createEmptyDatabase();
  const url = databaseUrl(name);
  const sql = connectCatalogue(url, { maxConnections: 4, applicationName: 'deltachain-test' });
  if (options.migrate ?? true) await migrateCatalogue(sql);
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await dropDatabase(name);
    },
  };
}
