import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClusters, planNats, planPostgres, type PostgresProbe } from './plan-services.js';

const root = { isRoot: true, hasApt: true };
const user = { isRoot: false, hasApt: true };
const cluster = { version: '15', name: 'main', port: 5432, online: false };
const probe = (p: Partial<PostgresProbe>): PostgresProbe => ({ workingUrl: undefined, listening: false, loginError: undefined, clusters: [], installed: false, ...p });

describe('planPostgres', () => {
  const cases: [string, PostgresProbe, typeof root, string][] = [
    ['a login works: use it', probe({ listening: true, workingUrl: 'postgres://postgres@127.0.0.1:5432/postgres' }), user, 'use'],
    ['logins refused, root, our cluster online: create the lab role', probe({ listening: true, loginError: 'password authentication failed', clusters: [{ ...cluster, online: true }], installed: true }), root, 'create-role'],
    ['logins refused, not root: tell', probe({ listening: true, loginError: 'password authentication failed', clusters: [{ ...cluster, online: true }] }), user, 'tell'],
    ['logins refused by a server that is not a Debian cluster: tell', probe({ listening: true, loginError: 'nope' }), root, 'tell'],
    ['cluster down, root: start it', probe({ clusters: [cluster], installed: true }), root, 'start-cluster'],
    ['cluster down, not root: tell', probe({ clusters: [cluster], installed: true }), user, 'tell'],
    ['installed without a cluster, root: create one', probe({ installed: true }), root, 'create-cluster'],
    ['nothing, root with apt: install', probe({}), root, 'install'],
    ['nothing, root without apt: tell', probe({}), { isRoot: true, hasApt: false }, 'tell'],
    ['nothing, not root: tell', probe({}), user, 'tell'],
  ];
  for (const [name, p, host, action] of cases) {
    it(name, () => assert.equal(planPostgres(p, host, 5432).action, action));
  }

  it('says exactly what to run when it cannot act', () => {
    const plan = planPostgres(probe({}), user, 5432);
    assert.equal(plan.action, 'tell');
    if (plan.action === 'tell') {
      assert.match(plan.reason, /no Postgres server on port 5432/);
      assert.deepEqual(plan.commands[0], 'sudo apt-get install -y postgresql');
    }
    const down = planPostgres(probe({ clusters: [cluster] }), user, 5432);
    assert.deepEqual(down.action === 'tell' ? down.commands[0] : '', 'sudo pg_ctlcluster 15 main start');
  });

  it('never changes roles for a URL the user gave', () => {
    const plan = planPostgres(probe({ listening: true, loginError: 'role "x" does not exist', clusters: [{ ...cluster, online: true }] }), root, 5432, true);
    assert.equal(plan.action, 'tell');
    assert.match(plan.action === 'tell' ? plan.reason : '', /DELTACHAIN_LAB_PG_URL was refused: role "x" does not exist/);
  });

  it('only starts the cluster on the port it was asked about', () => {
    assert.equal(planPostgres(probe({ clusters: [{ ...cluster, port: 5433 }], installed: true }), root, 5432).action, 'install');
  });
});

describe('planNats', () => {
  it('uses a server with JetStream', () => assert.deepEqual(planNats({ listening: true, jetStream: true, binary: undefined }, user, 'nats://127.0.0.1:4222'), { action: 'use' }));
  it('cannot fix a server without JetStream, and says so', () => {
    const plan = planNats({ listening: true, jetStream: false, binary: '/usr/sbin/nats-server' }, root, 'nats://127.0.0.1:4222');
    assert.equal(plan.action, 'tell');
    assert.match(plan.action === 'tell' ? plan.reason : '', /without JetStream/);
  });
  it('starts an installed nats-server, as any user', () => assert.deepEqual(planNats({ listening: false, jetStream: false, binary: '/usr/sbin/nats-server' }, user, 'nats://127.0.0.1:4222'), { action: 'start', binary: '/usr/sbin/nats-server' }));
  it('installs it as root with apt', () => assert.equal(planNats({ listening: false, jetStream: false, binary: undefined }, root, 'nats://127.0.0.1:4222').action, 'install'));
  it('tells a user to install it', () => {
    const plan = planNats({ listening: false, jetStream: false, binary: undefined }, user, 'nats://127.0.0.1:4222');
    assert.deepEqual(plan.action === 'tell' ? plan.commands[0] : '', 'sudo apt-get install -y nats-server');
  });
});

describe('parseClusters', () => {
  it('reads pg_lsclusters --no-header', () => {
    const out = '15  main    5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n16  test    5433 down   postgres /var/lib/postgresql/16/test /var/log/x.log\n';
    assert.deepEqual(parseClusters(out), [
      { version: '15', name: 'main', port: 5432, online: true },
      { version: '16', name: 'test', port: 5433, online: false },
    ]);
  });
  it('ignores a header and blank lines', () => assert.deepEqual(parseClusters('Ver Cluster Port Status Owner\n\n'), []));
});
