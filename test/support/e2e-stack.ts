// The whole system for end-to-end tests, as `npm run lab` runs it (lab/story's lab
// stack: lab pools, storage agents, host agents and the coordinator, each a real `deltachain`
// process, on the stack's own nats-server with a user per process), on resources of the test's
// own: a fresh database, a NATS namespace, a temporary folder. close() stops every process and
// removes the database and the folder (the nats-server's store with it).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabStack, type LabPoolSpec, type LabStack, TEST_TIMINGS } from '../../lab/story/index.js';
import { createEmptyDatabase, databaseUrl, dropDatabase } from './pg-database.js';

export interface E2eStack {
  stack: LabStack;
  folder: string;
  /** The coordinator's catalogue (a database of this stack's own). */
  databaseUrl: string;
  /** A process's warnings and errors from its log (for failure messages). */
  warnings(process: string): Promise<string>;
  close(): Promise<void>;
}

export async function startE2eStack(spec: { pools: LabPoolSpec[]; remotes: string[] }): Promise<E2eStack> {
  const folder = await mkdtemp(join(tmpdir(), 'dc-e2e-'));
  const database = await createEmptyDatabase('dc_e2e');
  const namespace = `e2e-${randomBytes(4).toString('hex')}`;
  const cleanup = async (): Promise<void> => {
    await dropDatabase(database).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  };
  try {
    const stack = await startLabStack({
      root: folder,
      databaseUrl: databaseUrl(database),
      nats: { namespace },
      coordinatorListen: '127.0.0.1:0',
      pools: spec.pools,
      remotes: spec.remotes,
      timings: TEST_TIMINGS,
      logLevel: (process.env.DELTACHAIN_TEST_LOG as 'debug' | undefined) ?? 'info',
    });
    return {
      stack,
      folder,
      databaseUrl: databaseUrl(database),
      async warnings(name) {
        const text = await readFile(join(folder, 'logs', `${name}.log`), 'utf8').catch((error: Error) => error.message);
        return text.split('\n').filter((line) => /"level":(40|50|60)/.test(line)).slice(-20).join('\n');
      },
      async close() {
        await stack.stop().catch(() => undefined);
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
