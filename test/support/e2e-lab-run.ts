// What a finished `npm run lab` may have left behind, read from what it printed: its database
// (still in Postgres?), its NATS streams (still on the server?), and its processes (the lab
// pool's, storage agent's and coordinator's ports still open?). An empty list means clean.
import { jetstreamManager } from '@nats-io/jetstream';
import postgres from 'postgres';
import { connectNats, natsNames, natsSchema, isNotFound } from '../../shared/nats/index.js';
import { portOpen } from '../../deploy/lab-story/index.js';
import { ADMIN_URL } from './pg-database.js';
import { NATS_URL } from './storage-nats.js';

export { runCliAt } from './e2e-cli.js';

export async function labLeftovers(output: string): Promise<string[]> {
  const database = /database (deltachain_lab_[0-9a-f]+)/.exec(output)?.[1];
  const namespace = /namespace (lab-[0-9a-f]+)/.exec(output)?.[1];
  if (database === undefined || namespace === undefined) return [`the output names no database or namespace:\n${output}`];
  const left: string[] = [];
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select datname from pg_database where datname = ${database}`;
    if (rows.length > 0) left.push(`database ${database}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const nc = await connectNats(natsSchema.parse({ servers: [NATS_URL], namespace }), 'deltachain-e2e-check');
  try {
    const jsm = await jetstreamManager(nc);
    const names = natsNames(namespace);
    for (const stream of [names.tasksStream, names.eventsStream]) {
      const exists = await jsm.streams.info(stream).then(() => true, (error: unknown) => (isNotFound(error) ? false : Promise.reject(error)));
      if (exists) left.push(`stream ${stream}`);
    }
  } finally {
    await nc.close();
  }
  for (const [, host, port] of output.matchAll(/ at (?:http:\/\/)?(127\.0\.0\.1):(\d+)/g)) {
    if (await portOpen(host!, Number(port))) left.push(`a process still listens on ${host}:${port}`);
  }
  return left;
}
