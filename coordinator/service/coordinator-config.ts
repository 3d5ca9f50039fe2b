// The coordinator's config file (JSON, validated once at start; see deploy/ for an example):
//   database.url    Postgres URL of the catalogue
//   nats            servers, namespace, nkey seed, TLS (shared/nats); ackWaitSeconds and maxDeliver
//                   of every task queue (the coordinator creates them)
//   api.socket      the control API's local unix socket (mode 0660: its owner and group may
//                   connect, as operators); '' for none. Default /run/deltachain/coordinator.sock
//   api.socketGroup the socket's group (name or gid), e.g. deltachain-operators; default the
//                   coordinator's own group
//   api.listen      optional "host:port" of the control API over TCP; needs api.tls with cert,
//                   key and ca (mutual TLS: callers show operator or viewer certificates), or
//                   api.tls.insecure: true (plaintext or no client certificates: anyone who
//                   reaches it is an operator)
//   storage.tls     how to reach storage agents' gRPC (to confirm commits): required; mutual TLS
//                   with the coordinator's certificate, plaintext only with tls.insecure: true
//   keys.signing    the coordinator's Ed25519 private key (PEM): it signs every task and the grants
//                   backup and restore tasks carry to storage agents (docs/security.md)
//   keys.digest     the digest key (base64 of 32 bytes): seals the catalogue's digests of backups
//   tasks.<kind>    overrides of timeoutSeconds / maxAttempts per task kind
//   retry           backoff between attempts: baseMs, maxMs, jitter (0..1)
//   metrics         optional: /healthz and /metrics (shared/observability): listen, tls
//   leadership      several coordinators on one catalogue: one is active at a time through a lease
//                   in Postgres (coordinator/service/leadership.ts); leaseSeconds (default 15: a
//                   standby takes over within about 1⅓ of it after the active one dies) and name
//                   (shown as the lease's holder; default the host name)
import { z } from 'zod';
import { logSchema, tlsSchema } from '../../shared/config/index.js';
import { natsSchema } from '../../shared/nats/index.js';
import { metricsSchema } from '../../shared/observability/index.js';

/** Where the coordinator serves its control API locally, and where the CLI looks first. */
export const DEFAULT_API_SOCKET = '/run/deltachain/coordinator.sock';

const limitSchema = z
  .object({
    /** Seconds from dispatch to the deadline of one attempt. */
    timeoutSeconds: z.number().int().min(1).max(7 * 86400).optional(),
    /** Attempts in all. */
    maxAttempts: z.number().int().min(1).max(100).optional(),
  })
  .strict();

export const coordinatorConfigSchema = z
  .object({
    log: logSchema.default({ level: 'info' }),
    database: z
      .object({
        /** e.g. "postgres://deltachain@db.example:5432/deltachain". */
        url: z.string().min(1),
        /** Connections in the pool. */
        maxConnections: z.number().int().min(2).max(100).default(10),
      })
      .strict(),
    nats: natsSchema.default(natsSchema.parse({})),
    api: z
      .object({
        /** Path of the local unix socket; '' = none. At most 100 bytes (the kernel's limit is 108). */
        socket: z.string().max(100).default(DEFAULT_API_SOCKET),
        /** Group (name or gid) the socket is given to; its members may use the CLI. Default: the process's group. */
        socketGroup: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$|^\d+$/, { message: 'expected a group name or gid' }).optional(),
        /** "host:port" over TCP; port 0 picks a free port. Absent: the socket only. */
        listen: z.string().regex(/^.+:\d+$/, { message: 'expected host:port, e.g. 0.0.0.0:7100' }).optional(),
        tls: tlsSchema.optional(),
      })
      .strict()
      .default({ socket: DEFAULT_API_SOCKET }),
    storage: z.object({ tls: tlsSchema }).strict(),
    keys: z
      .object({
        /** PEM file of the coordinator's Ed25519 private key (`deltachain keys generate`). */
        signing: z.string().min(1).optional(),
        /** File of the digest key (base64 of 32 bytes, `deltachain keys generate`): seals the catalogue's digests. */
        digest: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    tasks: z
      .object({
        backup: limitSchema.optional(),
        merge: limitSchema.optional(),
        delete: limitSchema.optional(),
        scan: limitSchema.optional(),
        restore: limitSchema.optional(),
        verify: limitSchema.optional(),
        release: limitSchema.optional(),
        mirror: limitSchema.optional(),
      })
      .strict()
      .default({}),
    retry: z
      .object({
        /** Milliseconds before the second attempt; doubles each time. */
        baseMs: z.number().int().min(0).default(30_000),
        /** Longest wait between attempts, milliseconds. */
        maxMs: z.number().int().min(0).default(30 * 60_000),
        /** Random share of each wait, 0..1. */
        jitter: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .default({ baseMs: 30_000, maxMs: 30 * 60_000, jitter: 0.5 }),
    /** Milliseconds between dispatch rounds when nothing wakes the dispatcher. */
    dispatchIntervalMs: z.number().int().min(50).max(60_000).default(1000),
    /** /healthz and /metrics; served only when given. */
    metrics: metricsSchema.optional(),
    leadership: z
      .object({
        /** How long the active coordinator's lease lasts unrenewed (renewed every third of it). */
        leaseSeconds: z.number().int().min(2).max(300).default(15),
        /** This coordinator's name in the lease (the process id and a random suffix are added). */
        name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'expected 1 to 64 letters, digits, dots, dashes or underscores' }).optional(),
      })
      .strict()
      .default({ leaseSeconds: 15 }),
  })
  .strict();

export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;
