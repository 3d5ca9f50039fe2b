// Every config the lab writes passes the schema of the process that reads it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostAgentConfigSchema } from '../../agent/host/index.js';
import { storageAgentConfigSchema } from '../../agent/storage/index.js';
import { coordinatorConfigSchema } from '../../coordinator/service/coordinator-config.js';
import { parseLabConfig } from '../pool/index.js';
import { coordinatorConfig, DEMO_TIMINGS, hostAgentConfig, labPoolConfig, storageAgentConfig, TEST_TIMINGS } from './lab-configs.js';
import { labFleet } from './lab-options.js';

const nats = { servers: ['nats://127.0.0.1:4222'], namespace: 'lab-0a1b2c3d', seedFile: '/tmp/lab/nats/seeds/coordinator.nk' };
const tls = (name: string) => ({ ca: '/lab/config/tls/deltachain-ca.crt', cert: `/lab/config/tls/${name}.crt`, key: `/lab/config/tls/${name}.key` });

describe('lab configs', () => {
  for (const [name, timings] of [['demo', DEMO_TIMINGS], ['test', TEST_TIMINGS]] as const) {
    it(`pass their processes' schemas (${name} timings)`, () => {
      const storage = storageAgentConfigSchema.parse(storageAgentConfig({ remote: 'nas', root: '/tmp/r', nats, timings, logLevel: 'info', dataPlane: { tls: tls('storage-nas'), coordinatorKey: '/lab/k.pub' } }));
      assert.equal(storage.storage.remoteId, 'nas');
      assert.deepEqual(storage.storage.tls, { ...tls('storage-nas'), insecure: false });
      assert.equal(storage.trust.coordinatorKey, '/lab/k.pub');
      assert.equal(storage.nats.namespace, nats.namespace);
      assert.equal(storage.nats.seedFile, nats.seedFile, 'each process authenticates with its own nkey');
      assert.equal(storage.nats.insecure, false);
      const host = hostAgentConfigSchema.parse(hostAgentConfig({ pool: 'lab', xapi: { url: 'http://127.0.0.1:1234', user: 'root', password: 'lab' }, nats, timings, logLevel: 'warn', dataPlane: { tls: tls('host-lab'), coordinatorKey: '/etc/deltachain/keys/signing.pub' } }));
      assert.equal(host.pool.id, 'lab');
      assert.equal(host.storage.tls.insecure, false);
      const api = { socket: '/lab/run/coordinator.sock', listen: '127.0.0.1:0', tls: tls('coordinator-api') };
      const coordinator = coordinatorConfigSchema.parse(coordinatorConfig({ databaseUrl: 'postgres://postgres@127.0.0.1/x', api, nats, timings, logLevel: 'info', dataPlane: { tls: tls('coordinator'), signingKey: '/lab/k.key' } }));
      assert.equal(coordinator.dispatchIntervalMs, timings.dispatchIntervalMs);
      assert.equal(coordinator.storage.tls.insecure, false);
      assert.equal(coordinator.keys.signing, '/lab/k.key');
      assert.equal(coordinator.api.socket, api.socket, 'the CLI on this machine uses the socket');
      assert.deepEqual(coordinator.api.tls, { ...api.tls, insecure: false }, 'over TCP: mutual TLS, operator and viewer certificates');
    });
  }

  it('the lab pool config with the lab fleet parses, with three VMs on two SRs', () => {
    const lab = parseLabConfig(labPoolConfig({ state: '/tmp/pool', fleet: labFleet(64 * 1024 * 1024), seed: 7 }));
    assert.deepEqual(lab.fleet.vms.map((vm) => [vm.name, vm.disks.map((d) => d.size)]), [
      ['web', [64 * 1024 * 1024, 32 * 1024 * 1024]],
      ['db', [64 * 1024 * 1024]],
      ['build', [32 * 1024 * 1024]],
    ]);
    assert.deepEqual(lab.fleet.srs.map((sr) => sr.name), ['Local storage', 'Restore SR']);
    assert.deepEqual(lab.fleet.networks.map((n) => n.purpose), [['nbd']], 'NBD with TLS, so backups can read over CBT and NBD');
  });
});
