// `deltachain agent --config FILE` as an operator runs it: the role picks the agent, config
// mistakes name the file and the field, and a missing V8 flag is pointed out.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runDeltachain } from './support/vhd-cli.js';
import { AGENT_MALLOC_TUNABLES, AGENT_NODE_FLAGS, agentEnvironment } from '../agent/node-flags.js';
import { runAgent } from '../agent/run-agent.js';
import { ConfigError } from '../shared/errors.js';

const BIN = fileURLToPath(new URL('../bin/deltachain.mjs', import.meta.url));

let folder: string;
before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'deltachain-agent-cli-'));
});
after(async () => rm(folder, { recursive: true, force: true }));

async function agentWith(config: unknown): Promise<{ code: number; stderr: string }> {
  const path = join(folder, `config-${Math.random().toString(16).slice(2)}.json`);
  await writeFile(path, JSON.stringify(config));
  return runDeltachain(['agent', '--config', path]);
}

test('an unknown role is named by the command', async () => {
  const result = await agentWith({ role: 'coordinator' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /role must be "storage" or "host"/);
});

test('a bad storage section and a missing file name what is wrong', async () => {
  const path = join(folder, 'bad.json');
  await writeFile(path, JSON.stringify({ role: 'storage', agentId: 'a1', storage: { remoteId: 'r1', root: folder, tls: {} } }));
  await assert.rejects(runAgent(path, {}), (e: Error) => e instanceof ConfigError && /storage\.tls: give cert and key .* or set insecure: true/.test(e.message));
  await assert.rejects(runAgent(join(folder, 'absent.json'), {}), (e: Error) => e instanceof ConfigError && /absent\.json/.test(e.message));
});

test('an agent started without its V8 flag and allocator settings warns and says how to start it; with them it does not', async () => {
  // A config that loads and then fails at start (no coordinator key): the warning comes before.
  const path = join(folder, 'no-key.json');
  await writeFile(path, JSON.stringify({ role: 'storage', agentId: 's1', storage: { remoteId: 'r1', root: join(folder, 'root'), tls: { insecure: true } }, nats: { servers: ['nats://127.0.0.1:1'] }, trust: { coordinatorKey: join(folder, 'absent.pub') } }));
  const without = await runDeltachain(['agent', '--config', path]);
  assert.equal(without.code, 1);
  assert.match(without.stderr, /absent\.pub/);
  const warning = without.stdout.split('\n').filter((line) => line.includes('"missing"')).map((line) => JSON.parse(line) as { missing: string[]; msg: string });
  assert.deepEqual(warning.map((w) => w.missing), [[...AGENT_MALLOC_TUNABLES], [...AGENT_NODE_FLAGS]]);
  assert.match(warning[0]!.msg, /Start it with GLIBC_TUNABLES=glibc\.malloc\.mmap_threshold=4194304:/);
  assert.match(warning[1]!.msg, /Start it as `node --initial-old-space-size=64 /);
  const withFlags = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [...AGENT_NODE_FLAGS, BIN, 'agent', '--config', path], { env: agentEnvironment() }, (_error, stdout, stderr) => resolve({ stdout, stderr })),
  );
  assert.match(withFlags.stderr, /absent\.pub/, 'it ran as far as the same failure');
  assert.doesNotMatch(withFlags.stdout, /"missing"/);
});
