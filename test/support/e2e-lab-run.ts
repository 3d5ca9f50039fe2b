// What a finished `npm run lab` may have left behind, read from what it printed: its database
// (still in Postgres?) and its processes (the lab's nats-server's, lab pool's, storage agent's
// and coordinator's ports still open?). An empty list means clean. The lab's streams live on its
// own nats-server, which is among those processes.
import postgres from 'postgres';
import { portOpen } from '../../lab/story/index.js';
import { ADMIN_URL } from './pg-database.js';

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
  for (const [, host, port] of output.matchAll(/ at (?:http:\/\/)?(127\.0\.0\.1):(\d+)/g)) {
    if (await portOpen(host!, Number(port))) left.push(`a process still listens on ${host}:${port}`);
  }
  return left;
}
