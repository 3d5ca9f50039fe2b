// The shared resources a lab run owns, so it never collides with tests or another lab: a
// database of its own (`deltachain_lab_<random>`) and a NATS namespace of its own
// (`lab-<random>`: its own streams and consumers). Both are removed when the lab stops.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { connectNats, deleteStreams, natsNames, natsSchema } from '../../shared/nats/index.js';
import { jetstreamManager } from '@nats-io/jetstream';

export interface LabResources {
  databaseName: string;
  /** URL of the lab's database (same login as the admin URL). */
  databaseUrl: string;
  namespace: string;
  /** Drops the database and deletes the namespace's streams. */
  release(): Promise<void>;
}

export function databaseUrlFor(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createLabResources(adminUrl: string, natsServers: string[], suffix = randomBytes(4).toString('hex')): Promise<LabResources> {
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
      const nc = await connectNats(natsSchema.parse({ servers: natsServers, namespace }), 'deltachain-lab-cleanup');
      try {
        await deleteStreams(await jetstreamManager(nc), natsNames(namespace));
      } finally {
        await nc.close();
      }
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${databaseName} with (force)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
