// A whole deployment over three sites (docs/multi-site.md, "Test bed"), every part a real process
// in its site's network namespace, the sites joined only by emulated WAN links whose bytes are
// counted:
//   site A: lab pool pool-a (VM alpha), its host agent, the storage agent of remote `local`,
//           coordinator c1 (active), NATS node A, Postgres (the root namespace's, standing for A);
//   site B: lab pool pool-b (VM beta), its host agent, coordinator c2 (standby), NATS node B;
//   site C: the storage agent of remote `offsite`, NATS node C.
// A policy backs up alpha and beta to `local`; a mirror copies every backup landing on `local` to
// `offsite`. What crosses each link is what the design says: A–B carries beta's backups (a full
// once, then its deltas) and control, nothing of alpha's; A–C the mirror's copies and control;
// B–C control only. The A–B link is cut in the middle of beta's full: the upload resumes and loses
// at most one window of blocks. The active coordinator is SIGKILLed mid-run: the standby takes
// over within 30 s, the run finishes with one backup per task. Every date restores to the lab's
// digests, from `local` and from the copies on `offsite`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { backUp, DigestLedger, findVm, policySettings, restoreChecked, writeGuest, type BackupRun, type E2eParts, type E2eVm } from './support/e2e-backups.js';
import { waitFor } from './support/deploy-processes.js';
import { startSiteDeployment, type SiteDeployment } from './support/site-deployment.js';
import { siteNetUsable } from './support/site-net.js';
import { linkShape } from './support/wan-link.js';

const MiB = 1024 * 1024;
const LEASE_SECONDS = 10;
/** Control traffic a link may carry in a phase besides the data it moves (NATS routes, catalogue, gRPC calls): measured ~0.1–0.3 MB. */
const CONTROL_BYTES = 1 * MiB;
/** The host agent's upload window: storage.uploadWindow (2) blocks of 2 MiB, with their bitmaps — what a cut may lose. */
const WINDOW_BYTES = 2 * (2 * MiB + 512);
/** How long A–B goes silent: more than the storage channels' keepalive needs to drop a dead connection (10 s + 10 s). */
const STALL_MS = 25_000;
const fleet = (vm: string, size: number) => ({ srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }], vms: [{ name: vm, disks: [{ name: `${vm} root`, size, fill: 50 }] }] });

type Link = 'A–B' | 'A–C' | 'B–C';
const LINKS: Record<Link, [string, string]> = { 'A–B': ['A', 'B'], 'A–C': ['A', 'C'], 'B–C': ['B', 'C'] };
/** Bytes each way over each link: `forward` is first site → second (A→B, A→C, B→C). */
type Bytes = Record<Link, { forward: number; back: number }>;

interface CopyResult {
  backupId: string;
  vmUuid: string;
  bytesReceived: number;
  disks: { diskKey: string; mode: string; bytesReceived: number }[];
}

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

describe('three sites: backups to a local remote mirrored offsite, a link cut, the active coordinator killed', { timeout: 600_000 }, () => {
  let sites: SiteDeployment;
  let parts: E2eParts;
  let alpha: E2eVm;
  let beta: E2eVm;
  let sql: postgres.Sql;
  const ledger = new DigestLedger();

  function bytes(): Bytes {
    const out = {} as Bytes;
    for (const [name, [a, b]] of Object.entries(LINKS) as [Link, [string, string]][]) {
      const { up, down } = sites.net.carried(a, b);
      out[name] = { forward: up, back: down };
    }
    return out;
  }
  function since(start: Bytes): Bytes {
    const now = bytes();
    const out = {} as Bytes;
    for (const name of Object.keys(LINKS) as Link[]) out[name] = { forward: now[name].forward - start[name].forward, back: now[name].back - start[name].back };
    return out;
  }
  function print(phase: string, moved: Bytes): void {
    console.log(`# ${phase}: A–B ${mb(moved['A–B'].forward)} A→B, ${mb(moved['A–B'].back)} B→A; A–C ${mb(moved['A–C'].forward)} A→C, ${mb(moved['A–C'].back)} C→A; B–C ${mb(moved['B–C'].forward)} B→C, ${mb(moved['B–C'].back)} C→B`);
  }

  /** The mirror's copies of a run (its follow-ups: the run waits for them), each succeeded. */
  async function copiesOf(run: BackupRun): Promise<CopyResult[]> {
    const { run: detail } = await parts.control.getRun({ id: run.summary.runId });
    const copies = detail!.tasks.filter((t) => t.kind === 'mirror');
    for (const t of copies) assert.equal(t.state, 'succeeded', `copy ${t.id}: ${t.errorCode} ${t.errorMessage}`);
    const results = copies.map((t) => ({ ...(JSON.parse(t.resultJson) as CopyResult), vmUuid: t.vmUuid }));
    // A copy keeps the backup's id: the lab's digests of the source backup are the copy's.
    for (const c of results) ledger.record('offsite', c.backupId, ledger.get('local', c.backupId));
    return results;
  }
  /** What a phase's links carried besides data: under CONTROL_BYTES each way. */
  function controlOnly(moved: Bytes, link: Link, why: string): void {
    assert.ok(moved[link].forward < CONTROL_BYTES && moved[link].back < CONTROL_BYTES, `${link} carried ${mb(moved[link].forward)} / ${mb(moved[link].back)}: only control (under ${mb(CONTROL_BYTES)} each way) ${why}`);
  }

  /**
   * Runs a step; when it fails, prints what a reader of a CI log needs to tell why: the tasks not
   * finished, the lease, and each process's last warnings — then fails as the step did.
   */
  async function diagnosed(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      const unfinished = await sql`select id, kind, state, address, remote_name, vm_uuid, attempt, dispatch_term, not_before, dispatched_at, started_at, last_event_at, error_code from tasks where state not in ('succeeded', 'failed', 'cancelled') order by created_at`.catch((e: Error) => e.message);
      const lease = await sql`select holder, term, expires_at, now() as now from coordinator_lease`.catch((e: Error) => e.message);
      console.log(`# failed at ${new Date().toISOString()}; unfinished tasks: ${JSON.stringify(unfinished)}; lease: ${JSON.stringify(lease)}`);
      for (const name of ['c2', 'host-pool-a', 'host-pool-b', 'storage-local', 'storage-offsite']) {
        console.log(`# ${name}, last warnings:\n${(await sites.warnings(name)).split('\n').map((l) => `#   ${l.slice(0, 600)}`).join('\n')}`);
        console.log(`# ${name}, last lines:\n${sites.logs(name).slice(-12).map((l) => `#   ${JSON.stringify(l).slice(0, 400)}`).join('\n')}`);
      }
      throw error;
    }
  }

  before(async () => {
    const unusable = await siteNetUsable();
    if (unusable !== undefined) throw new Error(`the three-site test needs the site test bed, which cannot run here: ${unusable}`);
    sites = await startSiteDeployment({
      sites: ['A', 'B', 'C'],
      links: [
        { a: 'A', b: 'B', shape: linkShape(100, 20) },
        { a: 'A', b: 'C', shape: linkShape(100, 50) },
        { a: 'B', b: 'C', shape: linkShape(100, 50) },
      ],
      pools: [
        { name: 'pool-a', site: 'A', seed: 71, fleet: fleet('alpha', 16 * MiB) },
        { name: 'pool-b', site: 'B', seed: 72, fleet: fleet('beta', 32 * MiB) },
      ],
      remotes: [
        { name: 'local', site: 'A' },
        { name: 'offsite', site: 'C' },
      ],
      coordinators: [
        { name: 'c1', site: 'A' },
        { name: 'c2', site: 'B' },
      ],
      postgresAt: 'A',
      leaseSeconds: LEASE_SECONDS,
    });
    // Every coordinator serves the control API. The test calls c1 until it kills it, then c2: a
    // cut of A–B resets c2's catalogue connections, failing a call it is serving (GRPC_INTERNAL).
    parts = sites.parts('c1');
    sql = postgres(sites.databaseUrl, { max: 2, onnotice: () => {} });
    alpha = await findVm(parts, 'pool-a', 'alpha');
    beta = await findVm(parts, 'pool-b', 'beta');
    await parts.control.createPolicy({ settings: policySettings('both-sites', [alpha, beta], ['local'], { retention: 4, fullInterval: 0 }) });
    await parts.control.createMirror({ name: 'away', sourceRemote: 'local', targetRemote: 'offsite', vmUuids: [], retention: 3, start: true });
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await sites?.close();
  });

  it("the fulls: beta's crosses A–B once, resumed after a cut in its middle; the mirror copies both to C; nothing of alpha's crosses A–B", () => diagnosed(async () => {
    const start = bytes();
    // Cut A–B once beta's upload has carried 40 % of its disk's data (16 MiB written of 32).
    let cutAfter = 0;
    const cutter = waitFor("beta's upload to carry 6.7 MB over A–B", () => {
      const carried = sites.net.carried('B', 'A').up - start['A–B'].back;
      if (carried < 0.4 * 16.8e6) return false;
      sites.net.cut('A', 'B');
      cutAfter = carried;
      return true;
    }, 60_000);
    const run = await backUp(parts, 'both-sites', [alpha, beta], ledger);
    await cutter;
    const moved = since(start);
    print('fulls, A–B cut mid-full', moved);
    const [alphaFull, betaFull] = [run.backup(alpha, 'local'), run.backup(beta, 'local')];
    const resumed = sites.logs('host-pool-b').find((l) => l.msg === 'upload resumed: the blocks the remote kept from the broken try were not sent again');
    const copies = await copiesOf(run);
    const copied = copies.reduce((sum, c) => sum + c.bytesReceived, 0);
    console.log(`# beta's full ${betaFull.bytesSent} bytes, cut after ${cutAfter} B→A, ${String(resumed?.bytesKept)} kept (${String(resumed?.blocksKept)} blocks), ${moved['A–B'].back - betaFull.bytesSent} carried besides the full; alpha's full ${alphaFull.bytesSent}; copies to offsite ${copies.map((c) => `${c.bytesReceived} (${c.disks.map((d) => d.mode).join()})`).join(', ')}`);

    assert.ok(resumed !== undefined && Number(resumed.bytesKept) > 0, "host agent B's upload resumed after the cut with blocks the remote kept (its log)");
    assert.ok(moved['A–B'].back - betaFull.bytesSent <= WINDOW_BYTES + CONTROL_BYTES, `B→A carried ${moved['A–B'].back} bytes for a full of ${betaFull.bytesSent}: the cut lost at most one upload window (${WINDOW_BYTES}) besides control`);
    assert.ok(alphaFull.bytesSent > WINDOW_BYTES + 2 * CONTROL_BYTES, 'alpha\'s full is larger than what A–B may carry besides beta\'s: the next assertion can tell');
    assert.ok(moved['A–B'].forward < CONTROL_BYTES, `A→B carried ${mb(moved['A–B'].forward)}: nothing of alpha's backup to A's own remote`);
    assert.deepEqual(copies.map((c) => c.disks.map((d) => d.mode)), [['full'], ['full']], 'each VM\'s first copy to offsite is whole');
    assert.ok(moved['A–C'].forward >= copied && moved['A–C'].forward < copied + CONTROL_BYTES, `A→C carried ${mb(moved['A–C'].forward)} for copies of ${mb(copied)}`);
    assert.ok(moved['A–C'].back < CONTROL_BYTES, `C→A carried ${mb(moved['A–C'].back)}: requests and control only`);
    controlOnly(moved, 'B–C', 'between B and C: B backs up to A');
  }));

  it("the deltas: each link carries only the new blocks — beta's delta over A–B, both copies over A–C, nothing of alpha's (a bigger delta) over A–B", () => diagnosed(async () => {
    await writeGuest(parts, alpha, [{ disk: 0, percent: 25, seed: 5 }]);
    await writeGuest(parts, beta, [{ disk: 0, percent: 4, seed: 6 }]);
    const start = bytes();
    const run = await backUp(parts, 'both-sites', [alpha, beta], ledger);
    const moved = since(start);
    print('deltas', moved);
    const [alphaDelta, betaDelta] = [run.backup(alpha, 'local'), run.backup(beta, 'local')];
    const copies = await copiesOf(run);
    const copied = copies.reduce((sum, c) => sum + c.bytesReceived, 0);
    console.log(`# deltas: alpha ${alphaDelta.bytesSent} bytes, beta ${betaDelta.bytesSent}; copies to offsite ${copies.map((c) => `${c.bytesReceived} (${c.disks.map((d) => d.mode).join()})`).join(', ')}`);
    assert.deepEqual([alpha, beta].map((vm) => Object.values(run.plans(vm, 'local')).map((p) => p.split(':')[0]).join()), ['delta', 'delta']);
    assert.ok(alphaDelta.bytesSent > CONTROL_BYTES, `alpha's delta (${alphaDelta.bytesSent} bytes) is more than A–B may carry besides beta's`);
    assert.ok(moved['A–B'].back >= betaDelta.bytesSent && moved['A–B'].back < betaDelta.bytesSent + CONTROL_BYTES, `B→A carried ${mb(moved['A–B'].back)} for beta's delta of ${mb(betaDelta.bytesSent)}`);
    assert.ok(moved['A–B'].forward < CONTROL_BYTES, `A→B carried ${mb(moved['A–B'].forward)}: nothing of alpha's`);
    assert.deepEqual(copies.map((c) => c.disks.map((d) => d.mode)), [['delta'], ['delta']], 'each copy is the backup\'s own delta');
    assert.ok(copied < alphaDelta.bytesSent + betaDelta.bytesSent + 128 * 1024, `the copies pulled ${copied} bytes for deltas of ${alphaDelta.bytesSent + betaDelta.bytesSent}`);
    assert.ok(moved['A–C'].forward >= copied && moved['A–C'].forward < copied + CONTROL_BYTES, `A→C carried ${mb(moved['A–C'].forward)} for copies of ${mb(copied)}`);
    controlOnly(moved, 'B–C', 'between B and C');
  }));

  it('the active coordinator SIGKILLed mid-run: the standby at B takes over within 30 s, the run finishes, one backup per task and none missing', () => diagnosed(async () => {
    await writeGuest(parts, alpha, [{ disk: 0, percent: 3, seed: 7 }]);
    await writeGuest(parts, beta, [{ disk: 0, percent: 3, seed: 8 }]);
    const start = bytes();
    parts = sites.parts('c2');
    const before = (await sql<{ holder: string; term: string }[]>`select holder, term from coordinator_lease where id = 1`)[0]!;
    assert.match(before.holder, /^c1:/, 'c1 is the active coordinator');
    // Pool B's export paced to 512 KiB/s (the lab's slowStreams fault): c1 dies while beta's delta is on its way.
    const poolB = parts.pools.get('pool-b')!.admin;
    await poolB.setFaults({ slowStreams: { bytesPerSecond: 512 * 1024 } });
    const pending = backUp(parts, 'both-sites', [alpha, beta], ledger);
    await waitFor("beta's delta on its way over A–B", () => sites.net.carried('B', 'A').up - start['A–B'].back > 256 * 1024, 60_000);
    const unfinished = (await sql<{ n: string }[]>`select count(*) as n from tasks where state not in ('succeeded', 'failed', 'cancelled')`)[0]!.n;
    const killedAt = Date.now();
    await sites.coordinators.get('c1')!.process.stop('SIGKILL');
    const carriedAtKill = sites.net.carried('B', 'A').up - start['A–B'].back;
    await poolB.setFaults({ slowStreams: null });
    const lease = await waitFor('c2 to hold the lease', async () => {
      const [row] = await sql<{ holder: string; term: string }[]>`select holder, term from coordinator_lease where id = 1 and expires_at > now()`;
      return row?.holder.startsWith('c2:') ? row : undefined;
    }, 40_000);
    const tookOverMs = Date.now() - killedAt;
    const run = await pending;
    const moved = since(start);
    print('deltas, c1 killed mid-run', moved);
    const betaDelta = run.backup(beta, 'local').bytesSent;
    console.log(`# c1 SIGKILLed with ${unfinished} tasks unfinished, ${carriedAtKill} bytes B→A of beta's delta of ${betaDelta}; c2 took over ${tookOverMs} ms later (lease ${LEASE_SECONDS} s), term ${before.term} → ${lease.term}`);
    assert.ok(Number(unfinished) > 0 && carriedAtKill < betaDelta, `c1 was killed in the middle of beta's delta (${carriedAtKill} of ${betaDelta} bytes over A–B)`);
    assert.ok(tookOverMs < 30_000, `c2 took over ${tookOverMs} ms after c1 was killed`);
    assert.ok(BigInt(lease.term) > BigInt(before.term), 'at a larger term');
    const backupTasks = (await parts.control.getRun({ id: run.summary.runId })).run!.tasks.filter((t) => t.kind === 'backup');
    assert.equal(backupTasks.length, 2);
    for (const task of backupTasks) assert.equal((await sql`select id from backups where task_id = ${task.id}`).length, 1, `one backup for task ${task.id} (${task.address})`);
    for (const vm of [alpha, beta]) {
      const onLocal = (await parts.control.listBackups({ vmUuid: vm.uuid, remote: 'local', all: false })).backups;
      assert.equal(onLocal.length, 3, `${vm.name}: one backup per run on local, none twice, none missing`);
    }
    const copies = await copiesOf(run);
    assert.deepEqual(copies.map((c) => c.disks.map((d) => d.mode)).sort(), [['delta'], ['delta']], 'the run\'s copies went on under c2');
    // After the takeover the active coordinator is at B: its catalogue traffic crosses A–B.
    controlOnly(moved, 'B–C', 'between B and C');
  }));

  it('every date restores to the lab\'s digests: from local, and from the copies on offsite', () => diagnosed(async () => {
    const start = bytes();
    let restored = 0;
    for (const remote of ['local', 'offsite']) {
      for (const vm of [alpha, beta]) {
        const held = (await parts.control.listBackups({ vmUuid: vm.uuid, remote, all: false })).backups.map((b) => b.id);
        assert.equal(held.length, 3, `${remote} holds ${vm.name}'s three dates`);
        for (const backupId of held) {
          await restoreChecked(parts, ledger, { vm, what: { backupId }, remote, toPool: vm.pool, srName: 'Local storage', expectedBackupId: backupId });
          restored++;
        }
      }
    }
    print(`${restored} restores`, since(start));
  }));

  // A silent link, not a reset: host agent B drops the dead connection (keepalive) and tries again
  // with resume, while the old stream is still open at the storage agent and, once the link is
  // back, still delivers what B had sent before (B's kernel retransmits). The storage agent breaks
  // off the caller's open stream for the resume, or answers it from the disk the old stream
  // received whole (agent/storage/parked-uploads.ts); the two cases the storage agent handles are
  // tested in test/storage-resume.test.ts.
  it("A–B silent for 25 s in the middle of beta's delta, as a failed link is (no reset): host agent B drops the dead connection and the delta resumes once the link is back", () => diagnosed(async () => {
    const count = (msg: string) => sites.logs('host-pool-b').filter((l) => l.msg === msg);
    const [interrupted, resumed] = ['disk transfer interrupted; sending the disk again', 'upload resumed: the blocks the remote kept from the broken try were not sent again'];
    const before = { interrupted: count(interrupted).length, resumed: count(resumed).length };
    await writeGuest(parts, beta, [{ disk: 0, percent: 12, seed: 9 }]);
    const poolB = parts.pools.get('pool-b')!.admin;
    await poolB.setFaults({ slowStreams: { bytesPerSecond: 1024 * 1024 } });
    const start = bytes();
    const pending = backUp(parts, 'both-sites', [alpha, beta], ledger);
    // Handled even when a step below fails: the run would otherwise reject after the test ended
    // (its clients closed by then) and fail the file a second time, hiding the step's own failure.
    pending.catch(() => undefined);
    await waitFor("beta's delta on its way over A–B", () => sites.net.carried('B', 'A').up - start['A–B'].back > 2.5 * MiB, 60_000);
    sites.net.stall('A', 'B');
    const carriedAtStall = sites.net.carried('B', 'A').up - start['A–B'].back;
    await poolB.setFaults({ slowStreams: null });
    await new Promise((resolve) => setTimeout(resolve, STALL_MS));
    sites.net.up('A', 'B');
    const upAt = Date.now();
    const run = await pending;
    const moved = since(start);
    print(`delta, A–B silent ${STALL_MS / 1000} s`, moved);
    const betaDelta = run.backup(beta, 'local').bytesSent;
    const kept = count(resumed).slice(before.resumed);
    console.log(`# beta's delta ${betaDelta} bytes: silent after ${carriedAtStall} B→A, the run finished ${Date.now() - upAt} ms after the link was back; resumed keeping ${kept.map((l) => String(l.bytesKept)).join()} bytes; ${moved['A–B'].back - betaDelta} carried besides the delta`);
    assert.ok(count(interrupted).length > before.interrupted, 'host agent B saw its upload interrupted (the dead connection dropped)');
    assert.ok(kept.length > 0 && Number(kept[0]!.bytesKept) > 0, 'and resumed it after the blocks the remote kept');
    assert.ok(moved['A–B'].back - betaDelta <= WINDOW_BYTES + CONTROL_BYTES, `B→A carried ${moved['A–B'].back} bytes for a delta of ${betaDelta}: at most one upload window lost`);
  }));
});
