import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFile, parseConfig } from '../../shared/config/index.js';
import { hostAgentConfigSchema } from './host-agent-config.js';

const minimal = {
  role: 'host',
  agentId: 'host-1',
  pool: { id: 'lab', url: 'https://xcp.example', user: 'root', password: 'pw' },
  storage: { tls: { insecure: true } },
  trust: { coordinatorKey: '/etc/deltachain/keys/signing.pub' },
};

describe('host agent config', () => {
  it('fills the documented defaults', () => {
    const config = parseConfig(hostAgentConfigSchema, minimal, 'test');
    assert.deepEqual(config.limits, { vms: 2, disksPerVm: 2, xapiCalls: 8 });
    assert.equal(config.pool.allowUnauthorized, false);
    assert.equal(config.storage.uploadWindow, 2);
    assert.equal(config.nats.namespace, 'deltachain');
    assert.ok(Object.isFrozen(config.pool));
  });
  it('refuses a config without the coordinator\'s key unless trust.insecure says so', () => {
    const { trust: _, ...open } = minimal;
    assert.throws(() => parseConfig(hostAgentConfigSchema, open, 'host.json'), /host\.json: trust\.coordinatorKey: the coordinator's public key .*or trust\.insecure: true/);
    assert.equal(parseConfig(hostAgentConfigSchema, { ...open, trust: { insecure: true } }, 'host.json').trust.insecure, true);
  });
  it('refuses credentials inside the pool URL, naming the field', () => {
    assert.throws(
      () => parseConfig(hostAgentConfigSchema, { ...minimal, pool: { ...minimal.pool, url: 'https://root:pw@xcp.example' } }, 'host.json'),
      /host\.json: pool\.url: give the credentials as user\/password/,
    );
  });
  it('refuses plaintext gRPC unless the config says insecure', () => {
    assert.throws(() => parseConfig(hostAgentConfigSchema, { ...minimal, storage: { tls: {} } }, 'host.json'), /storage\.tls/);
  });
  it('takes the password from the environment over the file', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'deltachain-host-config-'));
    try {
      const path = join(folder, 'host.json');
      await writeFile(path, JSON.stringify(minimal));
      const config = await loadConfigFile(hostAgentConfigSchema, path, { DELTACHAIN__POOL__PASSWORD: 'from-env' });
      assert.equal(config.pool.password, 'from-env');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
