// `deltachain-lab pool`: builds the lab's config from the flags (over --config), starts the pool,
// prints its banner (URL, credentials, VMs) and serves until SIGINT or SIGTERM.
import { ConfigError, InvalidInputError } from '../../shared/errors.js';
import { createLogger, type LogLevel } from '../../shared/logging/index.js';
import { readLabConfigFile, simpleFleet } from './config/lab-config.js';
import { labSummary, type LabSummary } from './http/lab-summary.js';
import { startLabPool } from './lab-pool.js';
import type { ContentKind } from './workload/content-kind.js';
import { humanSize } from '../../shared/human-units.js';

export interface PoolOptions {
  state?: string;
  config?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  vms?: number;
  diskSize?: number;
  fill?: number;
  content?: ContentKind;
  seed?: number;
  faults?: string;
  metrics?: string;
  logLevel: LogLevel;
  json?: boolean;
}

export async function runLabPool(o: PoolOptions): Promise<void> {
  const config = await poolConfig(o);
  const logger = createLogger({ level: o.logLevel, destination: process.stderr, pretty: false });
  const pool = await startLabPool({ config, logger });
  const summary = labSummary(pool.state);
  printBanner(pool, summary, config['state'] as string, o.json === true);
  await waitForSignal();
  await pool.close();
}

async function poolConfig(o: PoolOptions): Promise<Record<string, unknown>> {
  const config: Record<string, unknown> = o.config === undefined ? {} : await readLabConfigFile(o.config);
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) config[key] = value;
  };
  set('state', o.state);
  set('host', o.host);
  set('port', o.port);
  set('user', o.user);
  set('password', o.password);
  set('seed', o.seed);
  if (o.metrics !== undefined) config['metrics'] = { ...(config['metrics'] as object | undefined), listen: o.metrics };
  if (config['state'] === undefined) throw new ConfigError('lab pool: give --state <dir> (or "state" in --config)');
  if (o.vms !== undefined || o.diskSize !== undefined || o.fill !== undefined || o.content !== undefined || config['fleet'] === undefined) {
    config['fleet'] = simpleFleet(o.vms ?? 2, o.diskSize ?? 8 * 1024 ** 3, o.fill ?? 2, o.content ?? 'random');
  }
  if (o.faults !== undefined) {
    try {
      config['faults'] = JSON.parse(o.faults);
    } catch (error) {
      throw new InvalidInputError(`--faults is not JSON: ${(error as Error).message}`);
    }
  }
  return config;
}

function printBanner(pool: { url: string; urlWithCredentials: string; user: string; password: string; nbd: { address: string; port: number }; observabilityAddress: string | undefined }, summary: LabSummary, state: string, json: boolean): void {
  if (json) {
    const { url, urlWithCredentials, user, password, observabilityAddress: metrics } = pool;
    const nbd = { address: pool.nbd.address, port: pool.nbd.port };
    process.stdout.write(`${JSON.stringify({ url, urlWithCredentials, user, password, state, nbd, ...(metrics ? { metrics } : {}), ...summary })}\n`);
    return;
  }
  const lines = [
    `lab pool "${summary.pool.name}" listening`,
    `  url:       ${pool.url}`,
    `  user:      ${pool.user}`,
    `  password:  ${pool.password}`,
    `  --url:     ${pool.urlWithCredentials}`,
    `  state:     ${state}`,
    `  nbd:       ${pool.nbd.address}:${pool.nbd.port} (serves while a network has purpose nbd or insecure_nbd)`,
  ];
  if (pool.observabilityAddress) lines.push(`  metrics:   ${pool.observabilityAddress} (/healthz, /metrics)`);
  for (const vm of summary.vms.filter((v) => !v.isSnapshot)) {
    lines.push(`VM ${vm.name} ${vm.uuid} (${vm.powerState})`);
    for (const d of vm.disks) lines.push(`  disk ${d.userdevice}: VDI ${d.vdi} ${humanSize(d.virtualSize)}`);
  }
  lines.push('stop with Ctrl-C (SIGINT) or SIGTERM');
  process.stdout.write(`${lines.join('\n')}\n`);
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
