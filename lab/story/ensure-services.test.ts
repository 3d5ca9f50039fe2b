// ensureServices on this machine's real servers: the running Postgres is used as it is; with no
// NATS on the asked port, the lab starts its own nats-server with JetStream (data under the
// lab's folder) and stops it; a Postgres URL that is refused is reported with what to run.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureServices, ServicesError } from './ensure-services.js';
import { findExecutable, portOpen, probeNats } from './probe-services.js';
import { missingMessage } from '../../test/support/prerequisites.mjs';

const NATS_SERVER = await findExecutable('nats-server');
const PG_URL = process.env.DELTACHAIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('ensureServices', () => {
  let root: string;
  before(async () => (root = await mkdtemp(join(tmpdir(), 'dc-lab-services-'))));
  after(() => rm(root, { recursive: true, force: true }));

  it('starts its own nats-server with JetStream when none listens, and stops it', async () => {
    assert.ok(NATS_SERVER, missingMessage('nats-server'));
    const port = await freePort();
    const natsUrl = `nats://127.0.0.1:${port}`;
    const steps: string[] = [];
    const services = await ensureServices({ postgresUrl: PG_URL, postgresPort: 5432, natsUrl, root, progress: (t) => steps.push(t) });
    try {
      assert.equal(services.postgresUrl, PG_URL);
      assert.deepEqual(services.natsServers, [natsUrl]);
      assert.match(steps.join('\n'), new RegExp(`nats-server -js -a 127.0.0.1 -p ${port} -sd `));
      assert.deepEqual(await probeNats(natsUrl).then((p) => [p.listening, p.jetStream]), [true, true]);
      assert.ok((await readdir(join(root, 'nats'))).length > 0, 'JetStream keeps its data under the lab folder');
    } finally {
      await services.stop();
    }
    assert.equal(await portOpen('127.0.0.1', port), false, 'stopped with the lab');
  });

  it('reports a refused Postgres URL with what to run, and starts nothing', async () => {
    const steps: string[] = [];
    await assert.rejects(
      ensureServices({ postgresUrl: 'postgres://no_such_role_dc@127.0.0.1:5432/postgres', postgresPort: 5432, natsUrl: 'nats://127.0.0.1:4222', root, progress: (t) => steps.push(t) }),
      (error: unknown) => error instanceof ServicesError && /DELTACHAIN_LAB_PG_URL was refused: .*no_such_role_dc/.test(error.message) && /Run:\n {4}DELTACHAIN_LAB_PG_URL=/.test(error.message),
    );
    assert.deepEqual(steps, []);
  });
});
