// Starts a lab pool: opens (or creates, building the configured fleet) the state folder, then
// serves XAPI's JSON-RPC at /jsonrpc, the export_raw_vdi / import_raw_vdi handlers, and the lab's
// admin endpoints on one HTTP server. `close()` stops accepting, ends long polls and streams,
// waits for handlers to finish, and saves the state. The NBD server (nbd/) listens on its own
// port. With a `metrics` section the lab also serves /healthz and /metrics (lab-metrics.ts),
// "stopping" from the first moment of close().
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/logging/index.js';
import { startProcessObservability, writableFolderCheck, type ProcessObservability } from '../../shared/observability/index.js';
import { parseLabConfig, type LabConfig } from './config/lab-config.js';
import { FaultInjector } from './faults/fault-injector.js';
import { handleAdmin } from './http/admin-handler.js';
import { handleExport } from './http/export-handler.js';
import { replyText } from './http/http-replies.js';
import { handleImport } from './http/import-handler.js';
import { handleJsonRpc } from './http/json-rpc-handler.js';
import type { LabServices } from './lab-services.js';
import { registerLabMetrics } from './lab-metrics.js';
import { buildFleet } from './model/build-fleet.js';
import { LabNbdServer } from './nbd/nbd-server.js';
import { labMethods } from './rpc/methods/lab-methods.js';
import { RpcDispatcher } from './rpc/rpc-dispatcher.js';
import { SessionManager } from './rpc/session-manager.js';
import { TaskManager } from './rpc/task-manager.js';
import { LabState } from './state/lab-state.js';

/** Milliseconds handlers get to finish on close before connections are cut. */
const CLOSE_GRACE_MS = 1000;

export const LAB_POOL_VERSION = '0.1.0';

export interface LabPool {
  /** `http://host:port` (no credentials). */
  readonly url: string;
  /** `http://user:password@host:port`, what `lab write --url` accepts. */
  readonly urlWithCredentials: string;
  readonly user: string;
  readonly password: string;
  readonly port: number;
  /** The lab's state (records and disks), for tests and harnesses. */
  readonly state: LabState;
  readonly faults: FaultInjector;
  /** The NBD server's address and port (VDI.get_nbd_info gives them, with its certificate). */
  readonly nbd: { readonly address: string; readonly port: number; readonly cert: string; readonly subject: string };
  /** "host:port" of /healthz and /metrics, when configured. */
  readonly observabilityAddress: string | undefined;
  close(): Promise<void>;
}

export interface StartLabPoolOptions {
  /** A lab config (see config/lab-config.ts); validated here. */
  config: unknown;
  logger?: Logger;
}

export async function startLabPool(options: StartLabPoolOptions): Promise<LabPool> {
  const config = parseLabConfig(options.config);
  const logger = options.logger?.child({ component: 'lab-pool' });
  const state = await LabState.open(config.state);
  try {
    if (state.isNew) {
      await buildFleet(state, config.fleet, config.seed);
      await state.save();
    }
    return await serve(config, state, logger);
  } catch (error) {
    await state.close().catch(() => undefined);
    throw error;
  }
}

async function serve(config: LabConfig, state: LabState, logger: Logger | undefined): Promise<LabPool> {
  const shutdown = new AbortController();
  const sessions = new SessionManager({ user: config.user, password: config.password });
  const tasks = new TaskManager(state.records, () => state.hostRef);
  const faults = new FaultInjector(config.faults, logger);
  const nbd = await LabNbdServer.start({ address: config.nbd.address ?? config.host, port: config.nbd.port }, { state, sessions, faults, logger });
  const nbdInfo = (vdiUuid: string, sessionRef: string) => nbd.info(vdiUuid, sessionRef);
  const dispatcher = new RpcDispatcher({ registry: labMethods(), state, sessions, tasks, faults, nbdInfo, ...(logger ? { logger } : {}), shutdown: shutdown.signal });
  const lab: LabServices = { state, sessions, tasks, faults, dispatcher, logger, shutdown: shutdown.signal, options: { exportFraming: config.exportFraming } };
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const handling = route(lab, req, res).finally(() => inFlight.delete(handling));
    inFlight.add(handling);
  });
  server.keepAliveTimeout = 65_000;
  try {
    await listen(server, config.host, config.port);
  } catch (error) {
    await nbd.close();
    throw error;
  }
  const observability = await observe(config, state, server, logger).catch(async (error: unknown) => {
    await new Promise((resolve) => server.close(resolve));
    await nbd.close();
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  logger?.info({ host: config.host, port, nbdPort: nbd.port, state: config.state }, 'lab pool listening');
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    urlWithCredentials: `http://${encodeURIComponent(config.user)}:${encodeURIComponent(config.password)}@${host}:${port}`,
    user: config.user,
    password: config.password,
    port,
    state,
    faults,
    nbd: { address: nbd.address, port: nbd.port, cert: nbd.certificate.cert, subject: nbd.certificate.subject },
    observabilityAddress: observability.server?.address,
    close: () =>
      (closing ??= (async () => {
        observability.setPhase('stopping');
        shutdown.abort(new Error('the lab pool is shutting down'));
        state.events.wakeAll();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Long polls answer and streams stop on the abort; give them a moment to reply cleanly.
        await Promise.race([Promise.allSettled([...inFlight]), sleep(CLOSE_GRACE_MS)]);
        server.closeAllConnections();
        await Promise.allSettled([...inFlight]);
        await stopped;
        await nbd.close();
        await state.close();
        await observability.close();
        logger?.info('lab pool stopped');
      })()),
  };
}

async function route(lab: LabServices, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://lab');
  const path = url.pathname;
  try {
    if (req.method === 'POST' && path === '/jsonrpc') return await handleJsonRpc(lab, req, res);
    if (req.method === 'GET' && (path === '/export_raw_vdi' || path === '/export_raw_vdi/')) return await handleExport(lab, req, res, url);
    if (req.method === 'PUT' && (path === '/import_raw_vdi' || path === '/import_raw_vdi/')) return await handleImport(lab, req, res, url);
    if (path === '/lab' || path.startsWith('/lab/')) return await handleAdmin(lab, req, res, url);
    replyText(res, 404, `Not found: ${req.method} ${path}`);
  } catch (error) {
    lab.logger?.error({ err: error, method: req.method, path }, 'lab request failed');
    replyText(res, 500, 'Internal error');
  }
}

async function observe(config: LabConfig, state: LabState, server: Server, logger: Logger | undefined): Promise<ProcessObservability> {
  const observability = await startProcessObservability({ role: 'lab-pool', version: LAB_POOL_VERSION, config: config.metrics, logger });
  observability.health.add('state', writableFolderCheck(config.state));
  observability.health.add('xapi', () => ({ ok: server.listening, detail: server.listening ? 'listening' : 'closed' }));
  registerLabMetrics(observability.metrics, state);
  observability.setPhase('ready');
  return observability;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
