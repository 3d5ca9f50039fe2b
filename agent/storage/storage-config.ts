// The storage agent's config file (JSON; every field documented with its unit). Parsed once at
// start into a frozen object. Example: deploy/ or docs/remote-format.md's neighbours.
//   { "role": "storage", "agentId": "storage-1",
//     "nats": { "servers": ["nats://127.0.0.1:4222"] },
//     "storage": { "remoteId": "nas1", "root": "/srv/deltachain",
//                  "listen": { "host": "0.0.0.0", "port": 50051 },
//                  "tls": { "cert": "…", "key": "…", "ca": "…" } },
//     "trust": { "coordinatorKey": "/etc/deltachain/coordinator.pub" } }
import { z } from 'zod';
import { bandwidthSchema } from '../../shared/bandwidth.js';
import { requireTaskTrust, trustSchema } from '../../shared/task-trust/index.js';
import { logSchema, tlsSchema, type TlsConfig } from '../../shared/config/index.js';
import { TOKEN_PATTERN, natsSchema } from '../../shared/nats/index.js';
import { metricsSchema } from '../../shared/observability/index.js';
import { DEFAULT_UPLOAD_LIMITS } from './upload-limits.js';

export const storageSectionSchema = z
  .object({
    /** Which remote this agent serves; tasks are addressed to it. */
    remoteId: z.string().regex(TOKEN_PATTERN),
    /** The remote's root folder (created with its marker when missing). */
    root: z.string().min(1),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        /** 0 picks a free port (tests). */
        port: z.number().int().min(0).max(65535).default(50051),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 50051 }),
    /**
     * "host:port" clients reach this agent at — what `deltachain remote add --address` registered.
     * Heartbeats carry it so `agent list` can flag a registered address that differs; the
     * coordinator never uses it. Default: the listen address.
     */
    advertise: z.string().regex(/^[^\s/]+:\d{1,5}$/, { message: 'expected host:port, e.g. nas1.example.net:50051' }).optional(),
    /**
     * gRPC TLS: cert, key and ca (mutual TLS; with trust.coordinatorKey every call is checked by
     * role and grant). `insecure: true` serves every call from anyone: plaintext without cert/key.
     */
    tls: tlsSchema,
    /** Tasks run at once. */
    concurrency: z.number().int().min(1).max(16).default(2),
    /** Seconds between heartbeat events. */
    heartbeatSeconds: z.number().int().min(1).max(3600).default(15),
    /** Bounds on what callers can make this agent spend (agent/storage/upload-limits.ts). */
    limits: z
      .object({
        /** HTTP/2 streams (calls) at once per connection; more wait or are refused by the transport. */
        maxConcurrentStreams: z.number().int().min(1).max(1024).default(DEFAULT_UPLOAD_LIMITS.maxConcurrentStreams),
        /** PutDisk streams at once per caller (certificate identity, or address when insecure); more are refused. */
        uploadsPerPeer: z.number().int().min(1).max(256).default(DEFAULT_UPLOAD_LIMITS.uploadsPerPeer),
        /** Seconds an upload may go without a message before it is cancelled and its files removed. */
        idleSeconds: z.number().int().min(1).max(3600).default(DEFAULT_UPLOAD_LIMITS.idleSeconds),
        /** Bytes kept free on the remote's file system: an upload is refused (before writing) or stopped below it. 0: none. */
        freeSpaceFloorBytes: z.number().int().min(0).default(DEFAULT_UPLOAD_LIMITS.freeSpaceFloorBytes),
      })
      .strict()
      .default({ ...DEFAULT_UPLOAD_LIMITS }),
    /**
     * Blocks of 2 MiB a restore's read of a chain keeps in flight ahead of the one being sent, per
     * disk restored at once. Each costs ~2 MiB of memory while a restore runs (its block buffer;
     * blocks that need their older layers read share the 8 layer buffers of serve-disk.ts); more
     * keep more reads waiting on the remote's disk at once, which is what sets a restore's pace
     * where a block's layers are read one after another. Measured on the benchmark machine: 16
     * (the default, GET_DISK_READ_AHEAD) restored a 20-deep 4 GiB chain 15–20 % faster than 4, the
     * agent at ~150–165 MiB (docs/performance-notes.md, "Restore: enough reads in flight").
     */
    restoreReadAheadBlocks: z.number().int().min(1).max(64).optional(),
    /** Merges record their progress every this many blocks (smaller: less redone after a crash, more fsyncs). */
    mergeCheckpointBlocks: z.number().int().min(1).max(65536).default(256),
    /**
     * MiB of memory for the newest dates' chain-digest terms and 64 KiB piece hashes
     * (chain-terms.ts): ~1.15 KiB per 2 MiB block of a date. A date's pieces are kept when they fit
     * in half of it (64: disks up to ~57 GiB); without them a commit reads the blocks its delta changed.
     */
    chainTermCacheMiB: z.number().int().min(1).max(4096).default(64),
    /**
     * Limits on what this agent's mirrors pull from other remotes' storage agents (shared/bandwidth.ts):
     * `pullMbit` for all pulls together (no `remote`: the site's link) or for those from one source remote.
     */
    mirrorBandwidth: bandwidthSchema('pullMbit', 'to stop copies from a remote, disable or delete the mirrors that use it'),
  })
  .strict();

export const storageAgentConfigSchema = z
  .object({
    role: z.literal('storage'),
    /** Names this agent in events; a NATS subject token. */
    agentId: z.string().regex(TOKEN_PATTERN),
    log: logSchema.default({ level: 'info' }),
    nats: natsSchema.default(natsSchema.parse({})),
    storage: storageSectionSchema,
    /** What this agent trusts (docs/security.md). */
    trust: trustSchema,
    /** /healthz and /metrics (shared/observability); served only when given. */
    metrics: metricsSchema.optional(),
    /** On SIGTERM, seconds running tasks get to finish before they are handed back to the queue. */
    shutdownGraceSeconds: z.number().int().min(0).max(3600).default(30),
  })
  .strict()
  .superRefine(requireDataPlaneChecks)
  .superRefine(requireTaskTrust);

/**
 * A storage agent checks every call by the caller's certificate and the coordinator's grant
 * (data-plane-access.ts): refused at load, naming the field, when that is impossible and the
 * config does not say `storage.tls.insecure: true`.
 */
function requireDataPlaneChecks(config: { storage: { tls: TlsConfig }; trust: { coordinatorKey?: string | undefined } }, ctx: z.RefinementCtx): void {
  const { tls } = config.storage;
  // No TLS material at all: tlsSchema has said what to do.
  if (tls.insecure || (tls.cert === undefined && tls.key === undefined && tls.ca === undefined)) return;
  const issue = (path: string[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
  if (tls.cert === undefined || tls.key === undefined) issue(['storage', 'tls'], 'the data plane needs cert and key (its server certificate), or insecure: true for plaintext');
  if (tls.ca === undefined) {
    issue(['storage', 'tls', 'ca'], 'a storage agent without a CA would serve anyone: give ca (clients must then show a certificate it signed), or storage.tls.insecure: true');
  }
  if (config.trust.coordinatorKey === undefined) {
    issue(['trust', 'coordinatorKey'], "the coordinator's public key (PEM file) is needed to check the grant every call carries; or storage.tls.insecure: true to serve every call from anyone");
  }
}

export type StorageAgentConfig = z.infer<typeof storageAgentConfigSchema>;
