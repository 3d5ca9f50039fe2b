// The observability HTTP(S) server of a process: GET /healthz answers 200 with the health report
// as JSON when the process is ready and 503 (same body) when it is not — starting, stopping, or a
// component failing; GET /metrics answers the Prometheus exposition text. HEAD works on both;
// anything else is 404 or 405. HTTPS when TLS material is configured, requiring client
// certificates signed by `ca`; HTTPS without a CA serves anyone, so it needs `insecure: true`
// (and says so in a warning at start). Files are read once, at start.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/index.js';
import type { HealthChecks } from './health-checks.js';
import { parseListen, type MetricsTlsConfig } from './metrics-config.js';
import type { ProcessMetrics } from './process-metrics.js';

export interface ObservabilityServerOptions {
  listen: string;
  tls?: MetricsTlsConfig | undefined;
  health: HealthChecks;
  metrics: ProcessMetrics;
  logger?: Logger | undefined;
}

export interface ObservabilityServer {
  /** "host:port" actually bound (port 0 in the config picks a free one). */
  readonly address: string;
  readonly port: number;
  /** "http" or "https". */
  readonly scheme: string;
  close(): Promise<void>;
}

export async function startObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const { host, port } = parseListen(options.listen);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    respond(options, req, res).catch((error: unknown) => {
      options.logger?.error({ err: error, path: req.url }, 'observability request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  };
  const server: Server = options.tls ? createHttpsServer(tlsOptions(options.tls, options.logger), handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new ConfigError(`metrics.listen ${options.listen}: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    address: `${shownHost}:${bound}`,
    port: bound,
    scheme: options.tls ? 'https' : 'http',
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function respond(options: ObservabilityServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://local').pathname;
  if (path !== '/healthz' && path !== '/metrics') return reply(res, 404, 'text/plain', `not found: ${path} (try /healthz or /metrics)\n`, req);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return reply(res, 405, 'text/plain', `method ${req.method} not allowed\n`, req);
  }
  if (path === '/healthz') {
    const report = await options.health.report();
    return reply(res, report.status === 'ok' ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`, req);
  }
  const text = await options.metrics.render();
  return reply(res, 200, options.metrics.contentType, text, req);
}

function reply(res: ServerResponse, status: number, contentType: string, body: string, req: IncomingMessage): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function tlsOptions(tls: MetricsTlsConfig, logger: Logger | undefined): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean } {
  if (tls.ca === undefined) {
    if (tls.insecure !== true) throw new ConfigError('metrics.tls: a server without a CA would serve anyone: give metrics.tls.ca, or metrics.tls.insecure: true to serve without client certificates');
    logger?.warn({ field: 'metrics.tls', mode: 'tls-without-client-certificates' }, 'insecure HTTPS edge: no client certificates, /healthz and /metrics are served to anyone who reaches them');
  }
  const ca = tls.ca === undefined ? undefined : readPem(tls.ca, 'metrics.tls.ca');
  return {
    cert: readPem(tls.cert, 'metrics.tls.cert'),
    key: readPem(tls.key, 'metrics.tls.key'),
    ...(ca ? { ca } : {}),
    requestCert: ca !== undefined,
    rejectUnauthorized: ca !== undefined,
  };
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}
