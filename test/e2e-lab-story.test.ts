// `npm run lab` as a person runs it. `--once`: the story plays on real processes, every check
// passes, the status is 0, and nothing is left behind (processes, database, streams). Without
// `--once`: the system stays up after the story, the printed CLI commands work against it, and
// Ctrl-C (SIGINT) stops it all — here with a lab pool fault armed so that checks fail, which
// the lab reports and turns into a non-zero status.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { labLeftovers, runCliAt } from './support/e2e-lab-run.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface LabRun {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves when the output contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

/** `npm run lab -- …` in a process group of its own, as a terminal would run it. */
function startLab(args: string[]): LabRun {
  const child = spawn('npm', ['run', 'lab', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' }, detached: true });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor(text, timeoutMs = 300_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!out.includes(text)) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => (listeners.delete(check), reject(new Error(`no "${text}" in the lab's output:\n${out}`))), timeoutMs);
        listeners.add(check);
        void exited.then(() => setTimeout(() => (listeners.delete(check), clearTimeout(timer), out.includes(text) ? resolve() : reject(new Error(`the lab exited without "${text}":\n${out}`))), 100));
        check();
      });
    },
  };
}

describe('npm run lab', { timeout: 600_000 }, () => {
  const folders: string[] = [];
  after(async () => {
    for (const f of folders) await rm(f, { recursive: true, force: true });
  });

  it('--once plays the story, every check passes, exits 0 and leaves nothing running', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dc-lab-once-'));
    folders.push(root);
    const lab = startLab(['--once', '--root', root, '--disk-size', '32MiB']);
    const code = await lab.exited;
    const out = lab.output();
    assert.equal(code, 0, out);
    assert.match(out, /All (\d+) checks passed/);
    assert.ok(Number(/All (\d+) checks passed/.exec(out)![1]) >= 30, 'the story checks every night');
    for (const line of ['Night 1 — the first backup is a full', 'Night 2 — a delta', 'Night 5 — a delta, then a merge', "merged on nas's storage agent", 'equal to the lab pool\'s digest on night 3']) assert.ok(out.includes(line), `the story tells: ${line}`);
    assert.doesNotMatch(out, /✗/);
    const vhds = (await readdir(join(root, 'remotes', 'nas'), { recursive: true })).filter((f) => String(f).endsWith('.vhd'));
    assert.equal(vhds.length, 9, 'the remote keeps 3 dates of web (2 disks) and db (1 disk)');
    await assert.rejects(stat(join(root, 'lab.pid')), 'the lab released its folder');
    assert.deepEqual(await labLeftovers(out), [], 'database, streams and processes are gone');
  });

  it('stays up for the CLI after the story, reports failed checks, and stops on Ctrl-C with status 1', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dc-lab-live-'));
    folders.push(root);
    const faults = JSON.stringify({ snapshotFailure: { times: 1 } });
    const lab = startLab(['--root', root, '--disk-size', '32MiB', '--port', '0', '--faults', faults]);
    try {
      await lab.waitFor('Stop everything with Ctrl-C here');
      const out = lab.output();
      assert.match(out, /✗ .*SR_BACKEND_FAILURE_82/, 'the failed snapshot is reported with its XAPI code');
      assert.match(out, /\d+ of \d+ checks FAILED/);
      const address = /export DELTACHAIN_SOCKET=(\S+)/.exec(out)?.[1];
      assert.ok(address, "the guide says where the coordinator's socket is");
      const backups = await runCliAt(address, ['backup', 'list', '--json']);
      assert.equal(backups.code, 0, backups.stderr);
      const names = (JSON.parse(backups.stdout) as { vmName: string }[]).map((b) => b.vmName);
      assert.deepEqual([...new Set(names)].sort(), ['db', 'web']);
      const vms = await runCliAt(address, ['vm', 'list']);
      assert.match(vms.stdout, /web \(night 3\)/, 'the restored VM is reported to the catalogue');
      const endpoints = [...(/GET \/healthz and \/metrics of (.*)/.exec(out)?.[1] ?? '').matchAll(/(\S+) (http:\/\/\S+?)(?:,|$)/g)].map((m) => [m[1]!, m[2]!]);
      assert.deepEqual(endpoints.map(([name]) => name).sort(), ['coordinator', 'host-lab', 'lab-pool-lab', 'storage-nas'], 'every process serves /healthz and /metrics');
      for (const [name, url] of endpoints) assert.equal((await fetch(`${url}/healthz`)).status, 200, `${name} is healthy`);
      const metrics = await (await fetch(`${endpoints.find(([name]) => name === 'coordinator')![1]}/metrics`)).text();
      assert.match(metrics, /^deltachain_last_good_backup_age_seconds\{[^}]*\} \d/m, 'the coordinator exports the age of the last good backup');
      const agents = await runCliAt(address, ['agent', 'list', '--json']);
      assert.equal(agents.code, 0, agents.stderr);
      assert.deepEqual((JSON.parse(agents.stdout) as { id: string }[]).map((a) => a.id).sort(), ['host-lab', 'storage-nas']);
      // Ctrl-C in a terminal: SIGINT to the whole foreground group (npm, the lab and its processes).
      process.kill(-lab.child.pid!, 'SIGINT');
      assert.equal(await lab.exited, 1, 'a failed check makes the status 1');
      assert.match(lab.output(), /▸ Stopping/);
      const answers = await new Promise<boolean>((resolve) => {
        const socket = connect(address!);
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      assert.equal(answers, false, 'the coordinator stopped (nothing answers on its socket)');
      assert.deepEqual(await labLeftovers(lab.output()), []);
    } finally {
      try {
        process.kill(-lab.child.pid!, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
  });
});
