// The shared resources a lab run owns, so it never collides with tests or another lab: a
// database of its own (`deltachain_lab_<random>`), removed when the lab stops, and a NATS
// namespace of its own (`lab-<random>`) — on the lab's own nats-server (lab-nats.ts), whose
// streams stop with it and whose store is under the lab's folder.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export interface LabResources {
  databaseName: string;
  /** URL of the lab's database (same login as the admin URL). */
  databaseUrl: string;
  namespace: string;
  /** Drops the database. */
  release(): Promise<void>;
}

export function databaseUrlFor(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createLabResources(adminUrl: string, suffix = randomBytes(4).toString('hex')): Promise<LabResources> {
  const databaseName = `deltachain_lab_${suffix}`;
  const namespace = `lab-${suffix}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${databaseName}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    databaseName,
    databaseUrl: databaseUrlFor(adminUrl, databaseName),
    namespace,
    async release() {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${databaseName} with (force)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
