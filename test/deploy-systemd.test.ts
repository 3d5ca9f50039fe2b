// The systemd units under deploy/systemd/ (and the lab pool's, lab/systemd/): each runs a real
// `deltachain` (or `deltachain-lab`) command from the install folder with a config the examples
// provide (and its secrets file, when it reads one), as the user the sysusers file creates, hardened, stopping with SIGTERM and waiting longer than
// the agents' shutdown grace. `systemd-analyze verify` checks the syntax.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findCommand, optionsOf } from './support/deploy-configs.js';
import { missingMessage } from './support/prerequisites.mjs';
import { missingAgentNodeFlags, missingMallocTunables } from '../agent/node-flags.js';
import { LAB_NODE_FLAGS } from '../lab/pool/lab-node-flags.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UNITS = join(ROOT, 'deploy/systemd');
const LAB_UNITS = join(ROOT, 'lab/systemd');
const EXAMPLES = join(ROOT, 'deploy/examples');
const INSTALL = '/opt/deltachain/';
const CONFIG_DIR = '/etc/deltachain/';
const run = promisify(execFile);

type Unit = Record<string, Record<string, string[]>>;

/** Sections → keys → values (a key may repeat); comments and blank lines dropped. */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0 && section, `a key=value line inside a section: ${line}`);
    (unit[section]![line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

const unitFiles = readdirSync(UNITS).filter((f) => f.endsWith('.service'));
const labUnitFiles = readdirSync(LAB_UNITS).filter((f) => f.endsWith('.service'));
/** Every unit, product and lab, by file name → its folder. */
const unitFolders = new Map([...unitFiles.map((f) => [f, UNITS] as const), ...labUnitFiles.map((f) => [f, LAB_UNITS] as const)]);
/** Instances of the agent template: one per example agent config (agent-NAME.json). */
const agentInstances = readdirSync(EXAMPLES).filter((f) => /^agent-.+\.json$/.test(f)).map((f) => f.slice('agent-'.length, -'.json'.length));
const analyze = await run('systemd-analyze', ['--version']).then(() => true, () => false);
const exampleGrace = Math.max(...readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).map((f) => Number((JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as { shutdownGraceSeconds?: number }).shutdownGraceSeconds ?? 0)));

describe('systemd units', () => {
  it('are the coordinator and the agent template (the lab pool\'s is lab/systemd/), with the user the sysusers file creates', () => {
    assert.deepEqual(unitFiles.sort(), ['deltachain-agent@.service', 'deltachain-coordinator.service']);
    assert.deepEqual(labUnitFiles, ['deltachain-lab-pool.service']);
    const sysusers = readFileSync(join(UNITS, 'deltachain.sysusers.conf'), 'utf8');
    assert.match(sysusers, /^u deltachain - "[^"]+" \/var\/lib\/deltachain \/usr\/sbin\/nologin$/m);
    assert.ok(agentInstances.includes('storage-nas1') && agentInstances.includes('host-pool1'), `agent examples: ${agentInstances.join(', ')}`);
  });

  for (const [file, folder] of unitFolders) {
    it(`${file}: a real command, existing example configs and secrets, hardened, clean stop`, async () => {
      const unit = parseUnit(readFileSync(join(folder, file), 'utf8'));
      const service = unit.Service!;
      const one = (key: string): string | undefined => service[key]?.at(-1);
      assert.deepEqual([one('User'), one('Group')], ['deltachain', 'deltachain']);
      const [node, ...rest] = one('ExecStart')!.split(/\s+/);
      assert.equal(node, '/usr/bin/node');
      const nodeFlags = rest.slice(0, rest.findIndex((word) => !word.startsWith('--')));
      const [script, ...args] = rest.slice(nodeFlags.length);
      if (file.startsWith('deltachain-lab')) assert.deepEqual(nodeFlags, [...LAB_NODE_FLAGS], 'the lab pool runs with the V8 flags it is measured with');
      if (file.startsWith('deltachain-agent')) {
        assert.deepEqual(missingAgentNodeFlags(nodeFlags), [], 'the agent runs with the V8 flags it is measured with');
        const tunables = (service.Environment ?? []).find((line) => line.startsWith('GLIBC_TUNABLES='))?.slice('GLIBC_TUNABLES='.length);
        assert.deepEqual(missingMallocTunables(tunables), [], 'and the allocator settings');
      }
      assert.ok(script!.startsWith(INSTALL) && existsSync(join(ROOT, script!.slice(INSTALL.length))), `${script} is in the project`);
      assert.equal(one('WorkingDirectory'), INSTALL.replace(/\/$/, ''));
      const words = args.slice(0, args.indexOf('--config'));
      const command = await findCommand(script!.slice(INSTALL.length), words);
      assert.ok(command && optionsOf(command).includes('--config'), `${script} ${words.join(' ')} --config exists`);

      const instances = file.includes('@') ? agentInstances : [''];
      const config = args[args.indexOf('--config') + 1]!;
      assert.ok(config.startsWith(CONFIG_DIR), `${config} is under ${CONFIG_DIR}`);
      for (const instance of instances) {
        const example = config.slice(CONFIG_DIR.length).replaceAll('%i', instance);
        assert.ok(existsSync(join(EXAMPLES, example)), `deploy/examples/${example} exists`);
        for (const envFile of service.EnvironmentFile ?? []) {
          assert.ok(envFile.startsWith(`-${CONFIG_DIR}`), `${envFile}: optional, under ${CONFIG_DIR}`);
          const secrets = `${envFile.slice(CONFIG_DIR.length + 1).replaceAll('%i', instance)}.example`;
          assert.ok(existsSync(join(EXAMPLES, secrets)), `deploy/examples/${secrets} exists`);
        }
      }

      for (const [key, value] of Object.entries({
        NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', CapabilityBoundingSet: '',
        RestrictSUIDSGID: 'yes', ProtectKernelTunables: 'yes', ProtectControlGroups: 'yes', SystemCallArchitectures: 'native', Restart: 'on-failure', KillSignal: 'SIGTERM',
      })) assert.equal(one(key), value, `${key}=${value}`);
      assert.notEqual(one('MemoryDenyWriteExecute'), 'yes', 'V8 needs W+X memory');
      assert.ok(one('StateDirectory')?.split(/\s+/).includes('deltachain'));
      const grace = words[0] === 'agent' ? exampleGrace : 0;
      assert.ok(Number(one('TimeoutStopSec')) >= grace + 15, `TimeoutStopSec outlasts shutdownGraceSeconds ${grace}`);
      assert.deepEqual(unit.Install?.WantedBy, ['multi-user.target']);
      for (const doc of unit.Unit?.Documentation ?? []) assert.ok(existsSync(join(ROOT, doc.replace(`file://${INSTALL}`, ''))), `${doc} exists`);
    });
  }

  it('systemd-analyze verify finds nothing to say', async () => {
    assert.ok(analyze, missingMessage('systemd-analyze'));
    const folder = await mkdtemp(join(tmpdir(), 'dc-units-'));
    try {
      const paths: string[] = [];
      for (const [file, from] of unitFolders) {
        const name = file.replace('@.service', `@${agentInstances[0]}.service`);
        await copyFile(join(from, file), join(folder, name));
        paths.push(join(folder, name));
      }
      const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', ...paths]);
      assert.equal(`${stdout}${stderr}`.trim(), '');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
