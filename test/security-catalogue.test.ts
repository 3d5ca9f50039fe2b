// An attack on the catalogue itself, against the lab stack as `npm run lab` runs it: someone who
// can write to Postgres (but does not hold the coordinator's digest key, keys.digest) changes the
// chain digest recorded for a backup disk — to make a rewritten remote look right, or a sound one
// look damaged. The seal (an HMAC of the catalogue's facts under that key) no longer holds: a
// restore of that date is refused before anything reaches the pool, verify reports the digest
// as changed in the database, and nothing on the remote changes. The coordinator refuses to
// start with another digest key than the one the catalogue was sealed with.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import type { LabStack } from '../lab/story/index.js';
import { runPolicyAndWait } from '../lab/story/index.js';
import { sealCatalogue } from '../coordinator/catalogue/digest-seals.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { findVm, policySettings, srUuidOf, type E2eVm } from './support/e2e-backups.js';
import { runCli } from './support/e2e-cli.js';
import { remoteFileList } from './support/remote-files.js';

const MiB = 1024 * 1024;
const POOL = {
  name: 'lab',
  seed: 51,
  fleet: { srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }, { name: 'Restore SR', type: 'ext', size: 2 ** 32 }], vms: [{ name: 'web', disks: [{ name: 'web root', size: 8 * MiB, fill: 40 }] }] },
};

describe('security: the catalogue\'s digests are sealed', { timeout: 300_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let sql: postgres.Sql;
  let web: E2eVm;
  let backupId = '';

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas'] });
    stack = e2e.stack;
    sql = postgres(e2e.databaseUrl, { max: 1, onnotice: () => {} });
    web = await findVm(stack, 'lab', 'web');
    await stack.control.createPolicy({ settings: policySettings('nightly', [web], ['nas'], { retention: 3, fullInterval: 0 }) });
    const night = await runPolicyAndWait(stack.control, 'nightly');
    assert.equal(night.run!.state, 'succeeded', JSON.stringify(night.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    backupId = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups[0]!.id;
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await e2e?.close();
  });

  it('every recorded disk carries a seal', async () => {
    const rows = await sql<{ chain_digest: string; digest_seal: string }[]>`select chain_digest, digest_seal from disks`;
    assert.ok(rows.length > 0);
    for (const row of rows) {
      assert.match(row.chain_digest, /^[0-9a-f]{64}$/);
      assert.match(row.digest_seal, /^[0-9a-f]{64}$/, "sealed with the coordinator's digest key");
    }
  });

  it('a chain digest changed in the database: the restore is refused, verify names it, the remote is untouched', async () => {
    const files = await remoteFileList(stack.remotes.get('nas')!.root);
    const forged = randomBytes(32).toString('hex');
    await sql`update disks d set chain_digest = ${forged} from backups b where b.key = d.backup_key and b.id = ${backupId}`;
    const vmsBefore = (await stack.pools.get('lab')!.admin.state()).vms.length;
    const srUuid = await srUuidOf(stack, 'lab', 'Restore SR');
    await assert.rejects(
      stack.control.restore({ what: { $case: 'backupId', value: backupId }, pool: 'lab', srUuid, name: 'forged', backupRemote: 'nas', keepBootConfig: false }),
      /does not carry the coordinator's seal \(keys\.digest\): it was changed outside Deltachain/,
    );
    assert.equal((await stack.pools.get('lab')!.admin.state()).vms.length, vmsBefore, 'nothing was restored to the pool');
    const verify = await runCli(stack, ['verify', '--vm', web.uuid, '--json']);
    assert.match(verify.stdout + verify.stderr, /does not carry the coordinator's seal \(keys\.digest\): it was changed in the database/);
    assert.deepEqual(await remoteFileList(stack.remotes.get('nas')!.root), files, 'the remote did not change');
  });

  it('another digest key than the one the catalogue was sealed with is refused', async () => {
    await assert.rejects(sealCatalogue(sql as never, randomBytes(32)), /keys\.digest is not the key this catalogue was sealed with/);
  });
});
