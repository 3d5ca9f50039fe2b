// The optional `metrics` section every long-running process accepts (coordinator, storage agent,
// host agent, lab pool): where its observability server listens (/healthz and /metrics) and, when
// the port is reachable from outside, the TLS material to serve it over HTTPS — with client
// certificates checked against `ca`, or, only when the config says `insecure: true`, without.
// Without the section the process serves nothing (tests run many processes side by side).
import { z } from 'zod';
import { ConfigError } from '../errors.js';

export const metricsTlsSchema = z
  .object({
    /** PEM certificate chain of the server, a file path. */
    cert: z.string().min(1),
    /** PEM private key of the server, a file path. */
    key: z.string().min(1),
    /** PEM CA bundle, a file path: scrapers must present a client certificate it signed. */
    ca: z.string().min(1).optional(),
    /** `true` to serve HTTPS without `ca`: any client that reaches the port reads /metrics. */
    insecure: z.boolean().default(false),
  })
  .strict()
  .refine((tls) => tls.ca !== undefined || tls.insecure, {
    message: 'a server without a CA would serve anyone: give ca (scrapers then show a certificate it signed), or insecure: true to serve without client certificates',
  });

export const metricsSchema = z
  .object({
    /** "host:port" of /healthz and /metrics, e.g. "0.0.0.0:9711"; port 0 picks a free one (tests). */
    listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, { message: 'expected host:port, e.g. 127.0.0.1:9711 or [::1]:9711' }),
    /** HTTPS instead of plain HTTP (mutual TLS with `ca`). */
    tls: metricsTlsSchema.optional(),
  })
  .strict();

/** As parsed, or as a caller builds it (defaults not yet filled). */
export type MetricsConfig = z.input<typeof metricsSchema>;
/** As parsed, or as a caller builds it (`insecure` then defaults to false). */
export type MetricsTlsConfig = z.input<typeof metricsTlsSchema>;

export interface ListenAddress {
  /** Without brackets: "127.0.0.1", "::1", "0.0.0.0". */
  host: string;
  port: number;
}

/** Splits "host:port" (IPv6 in brackets) into its parts. */
export function parseListen(listen: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`metrics.listen: expected host:port, got ${JSON.stringify(listen)}`);
  return { host: match[1] ?? match[2]!, port };
}
