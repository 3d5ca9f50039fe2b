// docker-compose.yml and the Dockerfile, checked without a container engine: the compose file
// parses; it has every service of the stack; Deltachain services build the project's image and
// run real `deltachain` commands whose mounted configs exist and pass their process's schema
// (with the compose environment applied); ports, health checks and addresses agree with the
// configs and with the other services; and the image installs everything the code imports.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { applyEnvOverrides, parseConfig } from '../shared/config/index.js';
import { parseListen } from '../shared/observability/index.js';
import { SCHEMAS, findCommand, kindOf, optionsOf } from './support/deploy-configs.js';
import { AGENT_NODE_FLAGS, missingMallocTunables } from '../agent/node-flags.js';
import { LAB_NODE_FLAGS } from '../lab/pool/lab-node-flags.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  build?: string | { context: string };
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  stop_signal?: string;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const DELTACHAIN_SERVICES = ['coordinator', 'storage-agent', 'host-agent', 'lab-pool'];

/** Compose's `${VAR:-default}` interpolation, with no variables set: the defaults. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}/g, (_, _name: string, fallback: string | undefined) => fallback ?? '');
}

function seconds(duration: string): number {
  const match = /^(\d+)(s|m)$/.exec(duration);
  assert.ok(match, `a duration like 45s: ${duration}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

interface Loaded {
  /** The start script the service runs (the image's entrypoint unless it has its own). */
  script: string;
  command: string[];
  path: string;
  config: Record<string, unknown>;
  raw: Record<string, unknown>;
}

/** The config a service runs with: its --config mount, read and validated with its environment. */
function load(name: string): Loaded {
  const service = services[name]!;
  const command = (service.command ?? []).map(interpolate);
  const script = service.entrypoint === undefined ? 'bin/deltachain.mjs' : service.entrypoint.find((word, i) => i > 0 && !word.startsWith('--'))!.replace(/^\/opt\/deltachain\//, '');
  const target = command[command.indexOf('--config') + 1]!;
  const mount = (service.volumes ?? []).find((v) => v.split(':')[1] === target);
  assert.ok(mount, `${name}: ${target} is mounted`);
  const [source, , mode] = mount.split(':');
  assert.equal(mode, 'ro', `${name}: its config is mounted read-only`);
  const path = relative(ROOT, join(ROOT, source!));
  assert.ok(path.startsWith('deploy/compose/') && existsSync(join(ROOT, path)), `${name}: ${source} exists under deploy/compose/`);
  const raw = JSON.parse(read(path)) as Record<string, unknown>;
  const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
  const withEnv = applyEnvOverrides(raw, env);
  if (command.includes('--password')) withEnv.password = command[command.indexOf('--password') + 1];
  const config = parseConfig(SCHEMAS[kindOf(script, command, raw)], withEnv, path) as Record<string, unknown>;
  return { script, command, path, config, raw };
}

const get = (value: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
const containerPorts = (service: Service): number[] => (service.ports ?? []).map((p) => Number(p.split(':').at(-1)));

describe('docker-compose.yml', () => {
  it('has the whole stack: postgres, nats with JetStream, coordinator, storage agent, host agent, lab pool', () => {
    assert.deepEqual(Object.keys(services).sort(), ['coordinator', 'host-agent', 'lab-pool', 'nats', 'postgres', 'secrets', 'storage-agent']);
    assert.match(services.postgres!.image!, /^postgres:\d+/);
    assert.match(services.nats!.image!, /^nats:2\./);
    assert.ok(services.nats!.command!.includes('--jetstream'), 'nats runs with JetStream');
    for (const name of ['postgres', 'nats']) assert.ok(services[name]!.healthcheck, `${name} has a health check`);
  });

  for (const name of DELTACHAIN_SERVICES) {
    it(`${name}: the project's image, a real command, a valid config, ports and health check that match it`, async () => {
      const service = services[name]!;
      const build = typeof service.build === 'string' ? service.build : service.build?.context;
      assert.equal(build, '.', 'built from the project\'s Dockerfile');
      assert.equal(service.image, 'deltachain:local');
      if (service.entrypoint !== undefined) assert.deepEqual(service.entrypoint.slice(0, 1), ['node'], 'exec form, so SIGTERM reaches node');
      if (service.entrypoint?.some((word) => word.endsWith('/bin/lab.mjs'))) {
        assert.deepEqual(service.entrypoint.slice(1, -1), [...LAB_NODE_FLAGS], 'the lab pool runs with the V8 flags it is measured with');
      }
      const { script, command, config } = load(name);
      assert.ok(existsSync(join(ROOT, script)), `${script} is in the project`);
      const words = command.slice(0, command.indexOf('--config'));
      const cli = await findCommand(script, words);
      assert.ok(cli, `${script} ${words.join(' ')} exists`);
      assert.ok(optionsOf(cli).includes('--config'), `${script} ${words.join(' ')} takes --config`);
      const metrics = parseListen(String(get(config, 'metrics.listen')));
      assert.equal(metrics.host, '0.0.0.0', 'metrics reachable from outside the container');
      const listening = [metrics.port];
      if (name === 'coordinator') {
        assert.equal(get(config, 'api.listen'), undefined, 'the control API is not on the network: the CLI runs in the container, on the socket');
        assert.match(String(get(config, 'api.socket')), /^\/run\/deltachain\//, 'a socket in the folder the image makes for it');
      }
      if (name === 'lab-pool') listening.push(Number(config.port));
      for (const port of service.ports ?? []) {
        assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${port}: published on the host's loopback only`);
        assert.ok(listening.includes(Number(port.split(':')[2])), `${port}: the process listens on that port (${listening.join(', ')})`);
      }
      assert.ok(containerPorts(service).includes(metrics.port), 'the metrics port is published');
      const check = (service.healthcheck?.test ?? []).join(' ');
      assert.ok(check.includes(`http://127.0.0.1:${metrics.port}/healthz`), `health check on /healthz of port ${metrics.port}: ${check}`);
      const grace = Number(config.shutdownGraceSeconds ?? 0);
      assert.ok(seconds(service.stop_grace_period ?? '10s') > grace + 5, `stop_grace_period outlasts shutdownGraceSeconds ${grace}`);
      assert.equal(service.stop_signal ?? 'SIGTERM', 'SIGTERM');
    });
  }

  it('the services find each other: database, NATS, the lab pool, the storage agent', () => {
    const coordinator = load('coordinator').config;
    const database = new URL(String(get(coordinator, 'database.url')));
    const pg = services.postgres!.environment!;
    assert.deepEqual([database.hostname, database.port, database.username, database.pathname], ['postgres', '5432', pg.POSTGRES_USER, `/${pg.POSTGRES_DB}`]);
    assert.equal(database.password, interpolate(pg.POSTGRES_PASSWORD!), 'the coordinator has the database password from the same variable');
    assert.deepEqual(Object.keys(services.coordinator!.depends_on ?? {}).sort(), ['nats', 'postgres']);
    for (const dependency of Object.values(services.coordinator!.depends_on!)) assert.equal(dependency.condition, 'service_healthy');

    const namespaces = new Set<unknown>();
    for (const name of ['coordinator', 'storage-agent', 'host-agent']) {
      const config = load(name).config;
      for (const server of get(config, 'nats.servers') as string[]) assert.equal(new URL(server).host, 'nats:4222', `${name} reaches the nats service`);
      namespaces.add(get(config, 'nats.namespace'));
    }
    assert.equal(namespaces.size, 1, 'one NATS namespace');

    const host = load('host-agent').config;
    const lab = load('lab-pool').config;
    const pool = new URL(String(get(host, 'pool.url')));
    assert.deepEqual([pool.hostname, Number(pool.port)], ['lab-pool', lab.port]);
    assert.ok((services['lab-pool']!.expose ?? []).includes(String(lab.port)), 'the lab pool exposes its XAPI port');
    assert.equal(lab.host, '0.0.0.0');
    assert.deepEqual([get(host, 'pool.user'), get(host, 'pool.password')], [lab.user, lab.password], 'the host agent logs in with the lab pool\'s credentials');

    const storage = load('storage-agent').config;
    assert.equal(get(storage, 'storage.listen.host'), 'storage-agent', 'the storage agent announces an address host agents can reach');
    assert.ok((services['storage-agent']!.expose ?? []).includes(String(get(storage, 'storage.listen.port'))));
    assert.ok(Object.keys(services['host-agent']!.depends_on ?? {}).includes('lab-pool'));
  });

  it('credentials are made once by the secrets service and every secured process reads them', () => {
    const secrets = services.secrets!;
    assert.equal(secrets.image, 'deltachain:local');
    const script = 'deploy/compose/make-secrets.sh';
    assert.ok((statSync(join(ROOT, script)).mode & 0o111) !== 0, `${script} is executable`);
    assert.deepEqual((secrets as { entrypoint?: string[] }).entrypoint, [`/opt/deltachain/${script}`]);
    const made = read(script);
    for (const name of ['nats', 'coordinator', 'storage-agent', 'host-agent']) {
      const service = services[name]!;
      assert.ok((service.volumes ?? []).includes('secrets:/secrets:ro'), `${name} reads the secrets volume, read-only`);
    }
    assert.deepEqual(services.nats!.depends_on, { secrets: { condition: 'service_completed_successfully' } });
    const files = ['coordinator', 'storage-agent', 'host-agent'].flatMap((name) => JSON.stringify(load(name).raw).match(/\/secrets\/[^"]+/g) ?? []);
    assert.ok(files.length >= 10, `the configs name their credentials: ${files.join(', ')}`);
    assert.match(made, /deltachain nats-config --out nats --namespace deltachain --pool lab --remote local/);
    assert.match(made, /deltachain keys generate --out keys/);
    for (const file of files) {
      const name = file.split('/').pop()!.replace(/\.(crt|key|pub|nk)$/, '');
      const madeHere = file.startsWith('/secrets/nats/')
        ? ['coordinator', 'host.lab.host-lab', 'storage.local.storage-local'].includes(name)
        : file.startsWith('/secrets/keys/')
          ? ['signing', 'digest'].includes(name)
          : name === 'ca' || made.includes(`issue ${name} `);
      assert.ok(madeHere, `${file} is made by ${script}`);
    }
    for (const name of ['coordinator', 'storage-agent', 'host-agent']) {
      const config = load(name).config;
      assert.notEqual(get(config, 'nats.insecure'), true, `${name}: NATS with its nkey user and TLS`);
      assert.notEqual(get(config, 'storage.tls.insecure'), true, `${name}: mutual TLS on the data plane`);
    }
  });

  it('state lives in named volumes: the remote, the lab, the database, the streams', () => {
    const mounted = (name: string, path: string): void => {
      const volume = (services[name]!.volumes ?? []).map((v) => v.split(':')).find(([source, target]) => !source!.startsWith('.') && path.startsWith(target!));
      assert.ok(volume, `${name}: ${path} is on a named volume`);
      assert.ok(volume[0]! in compose.volumes, `${volume[0]} is declared`);
    };
    mounted('storage-agent', String(get(load('storage-agent').config, 'storage.root')));
    mounted('lab-pool', String(load('lab-pool').config.state));
    mounted('postgres', '/var/lib/postgresql/data');
    mounted('nats', services.nats!.command![services.nats!.command!.indexOf('--store_dir') + 1]!);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+ /.test(l));

  it('node 20 on Debian slim, production install, the runtime folders, an unprivileged user, exec-form entrypoint', () => {
    assert.equal(instructions.filter((l) => l.startsWith('FROM ')).join(), 'FROM node:20-bookworm-slim');
    assert.ok(instructions.some((l) => /^RUN npm ci --omit=dev\b/.test(l)), 'npm ci --omit=dev');
    const copied = instructions.filter((l) => l.startsWith('COPY ')).flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'shared', 'coordinator', 'agent', 'deploy', 'lab']) assert.ok(copied.includes(path), `COPY ${path}`);
    assert.ok(instructions.some((l) => /^USER (?!root)\w+/.test(l)), 'runs as a non-root user');
    const entrypoint = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length)) as string[];
    assert.deepEqual(entrypoint, ['node', ...AGENT_NODE_FLAGS, '/opt/deltachain/bin/deltachain.mjs'], 'exec form, so SIGTERM reaches node; the agents\' V8 flags');
    const tunables = instructions.find((l) => l.startsWith('ENV GLIBC_TUNABLES='))?.slice('ENV GLIBC_TUNABLES='.length);
    assert.deepEqual(missingMallocTunables(tunables), [], 'the agents\' allocator settings');
    assert.ok(existsSync(join(ROOT, 'bin/deltachain.mjs')));
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const path of ['node_modules', '.git', 'test', '.lab']) assert.ok(ignored.includes(path), `.dockerignore leaves out ${path}`);
  });

  it('every package the code imports at run time is a production dependency (npm ci --omit=dev installs it)', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const missing = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(ROOT, dir))) {
        const path = join(dir, entry);
        if (statSync(join(ROOT, path)).isDirectory()) {
          if (entry !== 'node_modules' && entry !== 'testing') walk(path);
          continue;
        }
        if (!/\.(ts|mjs)$/.test(entry) || entry.endsWith('.test.ts') || entry.endsWith('.d.ts')) continue;
        const source = read(path);
        for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
          const specifier = match[1] ?? match[2]!;
          if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          if (/^import\s+type\s/.test(match[0].trim())) continue;
          const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
          if (!(name in pkg.dependencies)) missing.set(name, path);
        }
      }
    };
    for (const dir of ['bin', 'shared', 'coordinator', 'agent', 'deploy', 'lab']) walk(dir);
    assert.deepEqual(Object.fromEntries(missing), {}, 'packages imported at run time but not in dependencies (package → a file importing it)');
  });
});
