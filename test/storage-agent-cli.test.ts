// `deltachain agent --config FILE` as an operator runs it: the role picks the agent, and config
// mistakes name the file and the field.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runDeltachain } from './support/vhd-cli.js';
import { runAgent } from '../agent/run-agent.js';
import { ConfigError } from '../shared/errors.js';

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
