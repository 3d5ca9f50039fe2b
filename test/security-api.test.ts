// Attacks on the coordinator's control API, against a real `deltachain coordinator` process on a
// real catalogue, each through the real CLI as an attacker would run it (docs/security.md,
// "Control API"): no client certificate, a certificate from another CA, a certificate without
// an identity, a host agent's certificate running `pool add`, a viewer changing things, another
// local user on the socket, and a config that would serve plaintext TCP. Each is refused with
// the catalogue unchanged, and every refused call that reached the coordinator is in the audit
// trail under the identity the transport proved.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ControlClient } from '../coordinator/api/control-client.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';
import { spawnCoordinator, startCoordinatorStack, type CoordinatorProcess, type CoordinatorStack } from './support/pg-coordinator-stack.js';

const BIN = fileURLToPath(new URL('../bin/deltachain.mjs', import.meta.url));

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { asUser?: string } = {}): Promise<Cli> {
  const [file, argv] = options.asUser === undefined ? [process.execPath, [BIN, ...args]] : ['runuser', ['-u', options.asUser, '--', process.execPath, BIN, ...args]];
  const env = { ...process.env, DELTACHAIN_API: '', DELTACHAIN_SOCKET: '', DELTACHAIN_CA: '', DELTACHAIN_CERT: '', DELTACHAIN_KEY: '' };
  for (const key of ['DELTACHAIN_API', 'DELTACHAIN_SOCKET', 'DELTACHAIN_CA', 'DELTACHAIN_CERT', 'DELTACHAIN_KEY'] as const) delete env[key];
  return new Promise((resolve) => {
    execFile(file, argv, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

interface AuditRow {
  who: string;
  method: string;
  outcome: string;
  detail: string;
  arguments: string;
}

describe('control API attacks (a real coordinator process)', { timeout: 300_000 }, () => {
  let stack: CoordinatorStack;
  let pki: RolePki;
  let coordinator: CoordinatorProcess;
  let socket: string;
  let api: string;
  const certs: Record<'operator' | 'viewer' | 'host' | 'anonymous' | 'stranger', CertFiles> = {} as never;

  const viaTls = (who: CertFiles | undefined): string[] => ['--api', api, '--ca', pki.ca.cert, ...(who ? ['--cert', who.cert, '--key', who.key] : [])];
  const viaSocket = (): string[] => ['--socket', socket];

  /** What the attacks must not change: every table an API call could write, audit trail aside. */
  const catalogue = async (): Promise<string> => {
    const sql = stack.db.sql;
    const tables = ['pools', 'remotes', 'policies', 'runs', 'tasks', 'backups'];
    const rows = await Promise.all(tables.map((t) => sql.unsafe(`select coalesce(jsonb_agg(to_jsonb(x) order by to_jsonb(x)::text), '[]') as rows from ${t} x`)));
    return JSON.stringify(rows.map((r) => r[0]!.rows));
  };
  const audit = async (): Promise<AuditRow[]> =>
    stack.db.sql<AuditRow[]>`select who, method, outcome, detail, arguments from control_audit order by id`;

  before(async () => {
    stack = await startCoordinatorStack('lab');
    pki = await makeRolePki(stack.folder);
    const [server, operator, viewer, host, anonymous, stranger] = await Promise.all([
      pki.issue({ role: 'coordinator', name: '' }, { server: true, file: 'api-server' }),
      pki.issue({ role: 'operator', name: 'alice' }),
      pki.issue({ role: 'viewer', name: 'bob' }),
      pki.issue({ role: 'host', name: 'lab' }),
      pki.issue(undefined),
      pki.issue({ role: 'operator', name: 'mallory' }, { issuer: pki.stranger, file: 'stranger-operator' }),
    ]);
    Object.assign(certs, { operator, viewer, host, anonymous, stranger });
    // The socket's folder may be traversed by anyone: only the socket's own mode keeps others out.
    const run = join(stack.folder, 'run');
    await mkdir(run, { recursive: true });
    await chmod(stack.folder, 0o711);
    await chmod(run, 0o755);
    socket = join(run, 'coordinator.sock');
    const config = { ...stack.coordinatorConfig(), api: { socket, listen: '127.0.0.1:0', tls: { ca: pki.ca.cert, ...server } } };
    const path = join(stack.folder, 'coordinator-api.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    coordinator = await spawnCoordinator(path);
    api = `127.0.0.1:${coordinator.port}`;
    const added = await cli(['pool', 'add', 'lab', ...viaSocket()]);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await coordinator?.kill();
    await stack?.close();
  });

  it('no client certificate, or one from another CA: refused at the handshake, nothing changed', async () => {
    const before = await catalogue();
    const auditBefore = (await audit()).length;
    for (const who of [undefined, certs.stranger]) {
      const attempt = await cli(['pool', 'add', 'evil', ...viaTls(who)]);
      assert.notEqual(attempt.code, 0, attempt.stdout);
      const read = await cli(['pool', 'list', ...viaTls(who)]);
      assert.notEqual(read.code, 0, 'not even reading');
    }
    const client = new ControlClient(api, ChannelCredentials.createSsl(null));
    await assert.rejects(client.listPools(), 'plain TLS without the CA and a certificate');
    client.close();
    assert.equal(await catalogue(), before);
    assert.equal((await audit()).length, auditBefore, 'these never reached the API');
  });

  it("a certificate without a Deltachain identity: UNAUTHENTICATED, audited", async () => {
    const before = await catalogue();
    const attempt = await cli(['pool', 'add', 'evil', ...viaTls(certs.anonymous)]);
    assert.equal(attempt.code, 77, attempt.stderr);
    assert.match(attempt.stderr, /show a client certificate with a subjectAltName URI urn:deltachain:operator:<name>/);
    assert.equal(await catalogue(), before);
    const last = (await audit()).at(-1)!;
    assert.deepEqual([last.method, last.outcome], ['AddPool', 'refused']);
    assert.match(last.who, /^no identity /);
  });

  it("a host agent's certificate running `pool add`: refused, nothing changed, audited as host:lab", async () => {
    const before = await catalogue();
    const attempt = await cli(['pool', 'add', 'evil', ...viaTls(certs.host)]);
    assert.equal(attempt.code, 77, attempt.stderr);
    assert.match(attempt.stderr, /host:lab is not a person: the control API serves operators and viewers only/);
    const read = await cli(['pool', 'list', ...viaTls(certs.host)]);
    assert.equal(read.code, 77, 'nor may it read');
    const watch = await cli(['run', 'watch', 'abcd1234', ...viaTls(certs.host)]);
    assert.equal(watch.code, 77, `nor watch (a stream): ${watch.stderr}`);
    assert.equal(await catalogue(), before);
    const rows = (await audit()).slice(-3);
    assert.deepEqual(rows.map((r) => [r.who, r.method, r.outcome]), [['host:lab', 'AddPool', 'refused'], ['host:lab', 'ListPools', 'refused'], ['host:lab', 'WatchRun', 'refused']]);
    assert.match(rows[0]!.arguments, /"name":"evil"/, 'what it tried is recorded');
  });

  it('a viewer: reading allowed, every change refused and audited', async () => {
    const before = await catalogue();
    const listed = await cli(['pool', 'list', '--json', ...viaTls(certs.viewer)]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((p) => p.name), ['lab']);
    assert.equal((await cli(['audit', 'list', '--limit', '5', ...viaTls(certs.viewer)])).code, 0, 'a viewer may read the audit trail');
    const changes = [
      ['pool', 'add', 'evil'],
      ['remote', 'add', 'evil', '--address', '127.0.0.1:9'],
      ['policy', 'create', 'evil', '--pool', 'lab', '--remote', 'nas', '--schedule', '0 2 * * *', '--retention', '3'],
    ];
    for (const change of changes) {
      const attempt = await cli([...change, ...viaTls(certs.viewer)]);
      assert.equal(attempt.code, 77, `${change.join(' ')}: ${attempt.stderr}`);
      assert.match(attempt.stderr, /viewer:bob may only look; \w+ changes things and needs an operator's certificate/);
    }
    assert.equal(await catalogue(), before);
    const refused = (await audit()).filter((r) => r.who === 'viewer:bob' && r.outcome === 'refused').map((r) => r.method);
    assert.deepEqual(refused, ['AddPool', 'AddRemote', 'CreatePolicy']);
  });

  it('an operator certificate may change things (the same calls, allowed), audited under its name', async () => {
    const added = await cli(['pool', 'add', 'second', ...viaTls(certs.operator)]);
    assert.equal(added.code, 0, added.stderr);
    const last = (await audit()).at(-1)!;
    assert.deepEqual([last.who, last.method, last.outcome], ['operator:alice', 'AddPool', 'ok']);
  });

  it('another local user on the socket: refused by its permissions, nothing changed', async () => {
    const before = await catalogue();
    const auditBefore = (await audit()).length;
    const attempt = await cli(['pool', 'add', 'evil', ...viaSocket()], { asUser: 'nobody' });
    assert.equal(attempt.code, 77, attempt.stderr);
    assert.match(attempt.stderr, /permission denied; run as a member of the coordinator's group/);
    const read = await cli(['pool', 'list', ...viaSocket()], { asUser: 'nobody' });
    assert.equal(read.code, 77, read.stderr);
    assert.equal(await catalogue(), before);
    assert.equal((await audit()).length, auditBefore, 'the connection never reached the coordinator');
    const own = await cli(['pool', 'list', '--json', ...viaSocket()]);
    assert.equal(own.code, 0, `the socket's owner may: ${own.stderr}`);
  });

  it("a member of the socket's group (api.socketGroup) is let in, as an operator", async () => {
    const shared = join(stack.folder, 'run', 'shared.sock');
    const path = join(stack.folder, 'coordinator-group.json');
    await writeFile(path, JSON.stringify({ ...stack.coordinatorConfig(), api: { socket: shared, socketGroup: 'nogroup' } }));
    const second = await spawnCoordinator(path);
    try {
      const listed = await cli(['pool', 'list', '--json', '--socket', shared], { asUser: 'nobody' });
      assert.equal(listed.code, 0, listed.stderr);
      const last = (await audit()).at(-1)!;
      assert.deepEqual([last.who, last.method, last.outcome], ['local socket', 'ListPools', 'ok']);
    } finally {
      await second.kill();
    }
  });

  it('the audit trail lists the refused attempts, filtered by caller', async () => {
    const listed = await cli(['audit', 'list', '--json', '--who', 'host:', ...viaSocket()]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as AuditRow[];
    assert.deepEqual(rows.map((r) => [r.who, r.method, r.outcome]), [['host:lab', 'WatchRun', 'refused'], ['host:lab', 'ListPools', 'refused'], ['host:lab', 'AddPool', 'refused']]);
  });

  it('plaintext TCP is refused at start unless the config says insecure', async () => {
    const base = stack.coordinatorConfig();
    const plain = join(stack.folder, 'plain.json');
    await writeFile(plain, JSON.stringify({ ...base, api: { socket: '', listen: '127.0.0.1:0' } }));
    await assert.rejects(spawnCoordinator(plain), /api\.listen 127\.0\.0\.1:0: the control API over TCP needs api\.tls with cert, key and ca/);
    const noCa = join(stack.folder, 'no-ca.json');
    await writeFile(noCa, JSON.stringify({ ...base, api: { socket: '', listen: '127.0.0.1:0', tls: { cert: certs.operator.cert, key: certs.operator.key } } }));
    await assert.rejects(spawnCoordinator(noCa), /a server without a CA would serve anyone/);
    const insecure = join(stack.folder, 'insecure.json');
    await writeFile(insecure, JSON.stringify({ ...base, api: { socket: '', listen: '127.0.0.1:0', tls: { insecure: true } } }));
    const open = await spawnCoordinator(insecure);
    try {
      assert.ok(open.logs.some((l) => l.msg?.toString().startsWith('insecure gRPC edge') && l.field === 'api.tls'), 'it says so at start');
      const listed = await cli(['pool', 'list', '--api', `127.0.0.1:${open.port}`, '--insecure']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match((await audit()).at(-1)!.who, /^unauthenticated /, 'recorded as unauthenticated');
    } finally {
      await open.kill();
    }
  });
});
