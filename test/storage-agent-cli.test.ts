// `deltachain agent --config FILE` as an operator runs it: the role picks the agent, and config
// mistakes name the file and the field.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runDeltachain } from './support/vhd-cli.js';

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

test('an unknown role and a bad storage section name what is wrong', async () => {
  assert.match((await agentWith({ role: 'coordinator' })).stderr, /role must be "storage" or "host"/);
  const bad = await agentWith({ role: 'storage', agentId: 'a1', storage: { remoteId: 'r1', root: folder, tls: {} } });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /storage\.tls: give cert and key .* or set insecure: true/);
  const missing = await runDeltachain(['agent', '--config', join(folder, 'absent.json')]);
  assert.match(missing.stderr, /cannot read agent config .*absent\.json/);
});
