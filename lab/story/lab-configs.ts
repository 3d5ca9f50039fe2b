// The config files of the lab's processes, as plain objects (written as JSON by the lab stack,
// checked against each process's own schema by lab-configs.test.ts). Everything listens on
// loopback and picks a free port unless told otherwise; the data plane runs as in production:
// mutual TLS with role certificates and the coordinator's signed grants (lab-security.ts makes
// the files; `dataPlane` names them). NATS is the lab's own server, each process with its own
// nkey user (lab-nats.ts). Timings are the production
// defaults except where a demo or a test would wait for nothing: quick dispatch rounds and
// short retry backoffs. Every process serves /healthz and /metrics on a free loopback port.
import type { FleetInput } from '../pool/config/lab-config.js';
import type { TlsFiles } from './lab-security.js';

export interface LabTimings {
  /** Coordinator: milliseconds between dispatch rounds. */
  dispatchIntervalMs: number;
  /** Coordinator: first retry backoff, ms (doubles up to maxMs). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** JetStream ack wait of every consumer, seconds. */
  ackWaitSeconds: number;
  /** Agents' heartbeat period, seconds. */
  heartbeatSeconds: number;
  /** Host agents' inventory report period, seconds (the first report comes at start). */
  inventorySeconds: number;
}

export const DEMO_TIMINGS: LabTimings = { dispatchIntervalMs: 250, retryBaseMs: 2000, retryMaxMs: 30_000, ackWaitSeconds: 30, heartbeatSeconds: 10, inventorySeconds: 10 };
export const TEST_TIMINGS: LabTimings = { dispatchIntervalMs: 150, retryBaseMs: 300, retryMaxMs: 2000, ackWaitSeconds: 10, heartbeatSeconds: 10, inventorySeconds: 5 };

/** A process's way to NATS: the lab's own server (lab-nats.ts), the namespace, its own seed. */
export interface NatsTarget {
  servers: string[];
  namespace: string;
  seedFile: string;
}

/** The `nats` section; the queues' ack wait is the coordinator's to set (it makes them). */
function natsSection(nats: NatsTarget, timings?: LabTimings): Record<string, unknown> {
  return { servers: nats.servers, namespace: nats.namespace, seedFile: nats.seedFile, ...(timings ? { ackWaitSeconds: timings.ackWaitSeconds } : {}) };
}

/** /healthz and /metrics on loopback, a free port (each process logs the one it got). */
const METRICS = { listen: '127.0.0.1:0' };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function labPoolConfig(o: { state: string; fleet: FleetInput; seed: number; port?: number; faults?: Record<string, unknown> }): Record<string, unknown> {
  return { state: o.state, host: '127.0.0.1', port: o.port ?? 0, user: 'root', password: 'lab', seed: o.seed, fleet: o.fleet, faults: o.faults ?? {}, metrics: METRICS };
}

/** A storage agent's data plane: its certificate (server and client) and the coordinator's public key. */
export interface StorageDataPlane {
  tls: TlsFiles;
  coordinatorKey: string;
}

/** The coordinator's control API: its local socket, and TCP with mutual TLS (`tls`: its server certificate). */
export interface CoordinatorApi {
  socket: string;
  listen: string;
  tls: TlsFiles;
}

/** The coordinator's side of the data plane: its client certificate, its signing key and its digest key. */
export interface CoordinatorDataPlane {
  tls: TlsFiles;
  signingKey: string;
  digestKey?: string;
}

export function storageAgentConfig(o: { remote: string; root: string; nats: NatsTarget; timings: LabTimings; logLevel: LogLevel; port?: number; dataPlane: StorageDataPlane }): Record<string, unknown> {
  return {
    role: 'storage',
    agentId: `storage-${o.remote}`,
    log: { level: o.logLevel, pretty: false },
    nats: natsSection(o.nats),
    storage: {
      remoteId: o.remote,
      root: o.root,
      listen: { host: '127.0.0.1', port: o.port ?? 0 },
      tls: o.dataPlane.tls,
      concurrency: 2,
      heartbeatSeconds: o.timings.heartbeatSeconds,
    },
    trust: { coordinatorKey: o.dataPlane.coordinatorKey },
    metrics: METRICS,
  };
}

export function hostAgentConfig(o: {
  pool: string;
  xapi: { url: string; user: string; password: string };
  nats: NatsTarget;
  timings: LabTimings;
  logLevel: LogLevel;
  /** Deadline of a unary call to a storage agent, ms (default 60 s). */
  storageCallTimeoutMs?: number;
  /** The host agent's certificate ("host:<pool>"), for storage agents; the coordinator's public key its tasks are checked with. */
  dataPlane: { tls: TlsFiles; coordinatorKey: string };
}): Record<string, unknown> {
  return {
    role: 'host',
    agentId: `host-${o.pool}`,
    log: { level: o.logLevel, pretty: false },
    nats: natsSection(o.nats),
    pool: { id: o.pool, url: o.xapi.url, user: o.xapi.user, password: o.xapi.password },
    limits: { vms: 2, disksPerVm: 2, xapiCalls: 8 },
    xapi: { callTimeoutMs: 60_000, retry: { tries: 3, baseDelayMs: 200, maxDelayMs: 2000 } },
    storage: { tls: o.dataPlane.tls, callTimeoutMs: o.storageCallTimeoutMs ?? 60_000 },
    trust: { coordinatorKey: o.dataPlane.coordinatorKey },
    // A disk is sent again as soon as the coordinator would retry a task; a storage agent that
    // went away gets a minute to come back.
    transfer: { tries: 3, baseDelayMs: o.timings.retryBaseMs, maxDelayMs: o.timings.retryMaxMs, storageWaitMs: 60_000 },
    heartbeatSeconds: o.timings.heartbeatSeconds,
    inventoryIntervalSeconds: o.timings.inventorySeconds,
    progressIntervalMs: 500,
    metrics: METRICS,
  };
}

export function coordinatorConfig(o: { databaseUrl: string; api: CoordinatorApi; nats: NatsTarget; timings: LabTimings; logLevel: LogLevel; dataPlane: CoordinatorDataPlane }): Record<string, unknown> {
  return {
    log: { level: o.logLevel, pretty: false },
    database: { url: o.databaseUrl, maxConnections: 4 },
    nats: natsSection(o.nats, o.timings),
    api: { socket: o.api.socket, listen: o.api.listen, tls: o.api.tls },
    storage: { tls: o.dataPlane.tls },
    keys: { signing: o.dataPlane.signingKey, ...(o.dataPlane.digestKey === undefined ? {} : { digest: o.dataPlane.digestKey }) },
    retry: { baseMs: o.timings.retryBaseMs, maxMs: o.timings.retryMaxMs, jitter: 0.2 },
    dispatchIntervalMs: o.timings.dispatchIntervalMs,
    metrics: METRICS,
  };
}
