// The host agent's config file (JSON; units in the names). Parsed once at start into a frozen
// object. The pool's XAPI credentials live here and only here: they are never logged (the
// logger redacts `password`, and the agent never logs its config) and never sent to the
// coordinator. `DELTACHAIN__POOL__PASSWORD=…` in the environment overrides the file.
//   { "role": "host", "agentId": "host-lab-1",
//     "nats": { "servers": ["nats://127.0.0.1:4222"] },
//     "pool": { "id": "lab", "url": "https://xcp-master.example", "user": "root", "password": "…" },
//     "limits": { "vms": 2, "disksPerVm": 2, "xapiCalls": 8 },
//     "storage": { "tls": { "ca": "…", "cert": "…", "key": "…" } } }
import { z } from 'zod';
import { requireTaskTrust, trustSchema } from '../../shared/task-trust/index.js';
import { logSchema, tlsSchema } from '../../shared/config/index.js';
import { DEFAULT_NBD_CONNECTIONS, DEFAULT_NBD_MAX_IN_FLIGHT } from '../../shared/nbd/index.js';
import { TOKEN_PATTERN, natsSchema } from '../../shared/nats/index.js';
import { metricsSchema } from '../../shared/observability/index.js';
import { bandwidthSchema as hostBandwidthSchema } from '../../shared/bandwidth.js';

/** Upload bandwidth limits (shared/bandwidth.ts), `uploadMbit` each. */
export const bandwidthSchema = hostBandwidthSchema('uploadMbit', 'to stop backups to a remote, disable the policies that use it');

const retrySchema = z
  .object({
    /** Attempts in total, the first included. */
    tries: z.number().int().min(1).max(20).default(5),
    baseDelayMs: z.number().int().min(1).max(60_000).default(500),
    maxDelayMs: z.number().int().min(1).max(600_000).default(15_000),
  })
  .strict();

export const hostAgentConfigSchema = z
  .object({
    role: z.literal('host'),
    /** Names this agent in events; a NATS subject token. */
    agentId: z.string().regex(TOKEN_PATTERN),
    log: logSchema.default({ level: 'info' }),
    nats: natsSchema.default(natsSchema.parse({})),
    pool: z
      .object({
        /** The pool id tasks are addressed to (the coordinator's pool name). */
        id: z.string().regex(TOKEN_PATTERN),
        /** Pool master, `https://host[:port]`, without credentials. */
        url: z.string().url().refine((url) => new URL(url).username === '', 'give the credentials as user/password, not in the URL'),
        user: z.string().min(1),
        password: z.string().min(1),
        /** Accept the pool master's self-signed certificate. */
        allowUnauthorized: z.boolean().default(false),
      })
      .strict(),
    limits: z
      .object({
        /** VM backups/restores at once (tasks pulled at once). */
        vms: z.number().int().min(1).max(64).default(2),
        /** Disks of one VM exported or imported at once. */
        disksPerVm: z.number().int().min(1).max(16).default(2),
        /** XAPI RPC calls in flight at once. */
        xapiCalls: z.number().int().min(1).max(64).default(8),
      })
      .strict()
      .default({ vms: 2, disksPerVm: 2, xapiCalls: 8 }),
    xapi: z
      .object({
        /** One RPC call's timeout, ms. */
        callTimeoutMs: z.number().int().min(1000).default(10 * 60_000),
        retry: retrySchema.default(retrySchema.parse({})),
      })
      .strict()
      .default({ callTimeoutMs: 10 * 60_000, retry: retrySchema.parse({}) }),
    storage: z
      .object({
        /** gRPC to storage agents: TLS (mTLS with a client certificate); plaintext only with `insecure: true`. */
        tls: tlsSchema,
        /** Deadline of a unary call to a storage agent, ms. */
        callTimeoutMs: z.number().int().min(1000).default(60_000),
        /** PutDisk messages in flight per disk and remote (each up to one block). */
        uploadWindow: z.number().int().min(1).max(16).default(2),
      })
      .strict(),
    bandwidth: bandwidthSchema,
    /**
     * Sending one disk again within a task attempt, when its export stream broke or its storage
     * agent went away (agent/host/backup/transfer-disk.ts). Failures left after the last try go
     * back to the coordinator, which retries the task later.
     */
    transfer: z
      .object({
        /** Tries of one disk within an attempt, the first included (1 = no retry). */
        tries: z.number().int().min(1).max(10).default(3),
        /** Delay cap before the first retry, ms; doubles each retry (jittered). */
        baseDelayMs: z.number().int().min(0).max(60_000).default(2000),
        /** Largest delay between tries, ms. */
        maxDelayMs: z.number().int().min(0).max(600_000).default(30_000),
        /** Longest wait for a storage agent that went away (restarting) to answer again, ms. */
        storageWaitMs: z.number().int().min(0).max(3_600_000).default(120_000),
      })
      .strict()
      .default({ tries: 3, baseDelayMs: 2000, maxDelayMs: 30_000, storageWaitMs: 120_000 }),
    /**
     * How a delta finds what changed: `cbt` reads exactly the 64 KiB extents XAPI's changed block
     * tracking marks, over NBD (and turns CBT on for the disks it backs up); `vhd-export` asks XAPI
     * for a VHD delta export (whole 2 MiB blocks). The CBT path falls back to the VHD export, then
     * to a full, when CBT or NBD cannot serve a disk, and says why in the task's result.
     */
    backup: z
      .object({
        changedBlocks: z.enum(['cbt', 'vhd-export']).default('cbt'),
      })
      .strict()
      .default({ changedBlocks: 'cbt' }),
    /** Reading disks over the pool's NBD server (the CBT path). */
    nbd: z
      .object({
        /** Connections per disk (docs/performance-notes.md: 2 measured best; more gains nothing). */
        connections: z.number().int().min(1).max(16).default(DEFAULT_NBD_CONNECTIONS),
        /** Bytes of reads in flight per disk, over all its connections. */
        maxInFlightBytes: z.number().int().min(1024 * 1024).max(256 * 1024 * 1024).default(DEFAULT_NBD_MAX_IN_FLIGHT),
      })
      .strict()
      .default({ connections: DEFAULT_NBD_CONNECTIONS, maxInFlightBytes: DEFAULT_NBD_MAX_IN_FLIGHT }),
    /** What this agent trusts: the coordinator's public key every task's signature is checked with (docs/security.md). */
    trust: trustSchema,
    /** Seconds between heartbeat events. */
    heartbeatSeconds: z.number().int().min(1).max(3600).default(15),
    /** Seconds between two reports of the pool's VM inventory (one is also sent at start). */
    inventoryIntervalSeconds: z.number().int().min(5).max(86_400).default(60),
    /** Minimum time between two progress events of one task, ms. */
    progressIntervalMs: z.number().int().min(0).max(600_000).default(2000),
    /** /healthz and /metrics (shared/observability); served only when given. */
    metrics: metricsSchema.optional(),
    /** On SIGTERM, seconds running backups and restores get to finish before they are handed back to the queue. */
    shutdownGraceSeconds: z.number().int().min(0).max(3600).default(30),
  })
  .strict()
  .superRefine(requireTaskTrust);

export type HostAgentConfig = z.infer<typeof hostAgentConfigSchema>;
