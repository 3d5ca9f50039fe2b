// The supervisor with real child processes (small node scripts): readiness from a JSON log
// line, every line in the log file, a child that exits before it is ready, one that ignores
// SIGTERM (SIGKILL after the grace period), and an unexpected exit reported.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabProcessError, ProcessSupervisor } from './process-supervisor.js';

const node = process.execPath;
const READY = `console.log('starting'); setTimeout(() => console.log(JSON.stringify({ msg: 'ready', port: 1234 })), 50);`;

describe('ProcessSupervisor', () => {
  let folder: string;
  before(async () => (folder = await mkdtemp(join(tmpdir(), 'dc-supervisor-'))));
  after(() => rm(folder, { recursive: true, force: true }));

  it('waits for readiness, logs every line to the process\'s file, and stops it with SIGTERM', async () => {
    const supervisor = new ProcessSupervisor(join(folder, 'logs'));
    const p = await supervisor.start({ name: 'svc', command: node, args: ['-e', `${READY} setInterval(() => {}, 1000)`], ready: (_l, json) => (json?.msg === 'ready' ? Number(json.port) : undefined) });
    assert.equal(p.value, 1234);
    assert.deepEqual(p.logs, [{ msg: 'ready', port: 1234 }]);
    await supervisor.stopAll();
    assert.equal(p.child.signalCode, 'SIGTERM');
    assert.equal(supervisor.running.length, 0);
    assert.match(await readFile(p.logFile, 'utf8'), /starting\n\{"msg":"ready","port":1234\}\n/);
  });

  it('fails with the output when a process exits before it is ready', async () => {
    const supervisor = new ProcessSupervisor(join(folder, 'logs'));
    await assert.rejects(
      supervisor.start({ name: 'broken', command: node, args: ['-e', 'console.error("config: database.url is required"); process.exit(3)'], ready: () => undefined }),
      (error: unknown) => error instanceof LabProcessError && /broken exited \(3\) before it was ready/.test((error as Error).message) && /database\.url is required/.test((error as Error).message),
    );
  });

  it('kills a process that ignores SIGTERM after the grace period', async () => {
    const supervisor = new ProcessSupervisor(join(folder, 'logs'));
    const script = `process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(() => {}, 1000)`;
    const p = await supervisor.start({ name: 'stubborn', command: node, args: ['-e', script], ready: (line) => (line === 'up' ? true : undefined) });
    const started = Date.now();
    await supervisor.stopAll(300);
    assert.equal(p.child.signalCode, 'SIGKILL');
    assert.ok(Date.now() - started < 5000);
  });

  it('reports a process that exits on its own, and not one it stopped', async () => {
    const exits: string[] = [];
    const supervisor = new ProcessSupervisor(join(folder, 'logs'), (name, code) => exits.push(`${name}:${code}`));
    const short = await supervisor.start({ name: 'short', command: node, args: ['-e', `console.log('up'); setTimeout(() => process.exit(7), 100)`], ready: (line) => (line === 'up' ? true : undefined) });
    const long = await supervisor.start({ name: 'long', command: node, args: ['-e', `console.log('up'); setInterval(() => {}, 1000)`], ready: (line) => (line === 'up' ? true : undefined) });
    await short.exited;
    await new Promise((r) => setImmediate(r));
    await supervisor.stopAll();
    await long.exited;
    assert.deepEqual(exits, ['short:7']);
  });

  it('names a command that cannot be started', async () => {
    const supervisor = new ProcessSupervisor(join(folder, 'logs'));
    await assert.rejects(supervisor.start({ name: 'missing', command: join(folder, 'no-such-binary'), args: [], ready: () => true }), /cannot start missing/);
  });
});
