// The `nats` section of an agent's or the coordinator's config. Units in the names.
//   seedFile   this process's nkey seed (`deltachain nats-config` writes one per process)
//   tls        TLS to the server: `ca` (PEM file; the system's CAs when absent), and a client
//              certificate (`cert`, `key`) when the server asks for one
//   insecure   allows what is otherwise refused: no seedFile (no credentials), and plaintext to
//              a server that is not on loopback. Each logs a warning at start (connect.ts).
// Plaintext to a loopback server is allowed without `insecure` (with a warning): the nkey proves
// who connects without sending a secret, and only root can read loopback traffic — who can
// read the seed files anyway.
import { z } from 'zod';
import { DEFAULT_NAMESPACE, TOKEN_PATTERN } from './names.js';

export const natsTlsSchema = z
  .object({
    /** PEM file of the CA that signed the server's certificate; default: the system's CAs. */
    ca: z.string().min(1).optional(),
    /** PEM files of a client certificate and its key, when the server asks for one. */
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .strict()
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { message: 'give both cert and key, or neither' });

export const natsSchema = z
  .object({
    /** Server URLs, e.g. "nats://127.0.0.1:4222". */
    servers: z.array(z.string().min(1)).min(1).default(['nats://127.0.0.1:4222']),
    /** Prefix of every subject and stream (names.ts); tests use their own. */
    namespace: z.string().regex(TOKEN_PATTERN).default(DEFAULT_NAMESPACE),
    /** Path of this process's nkey seed file ("SU…"); required unless `insecure`. */
    seedFile: z.string().min(1).optional(),
    tls: natsTlsSchema.optional(),
    /** Connect without credentials, or in plaintext to a server not on loopback (warned at start). */
    insecure: z.boolean().default(false),
    /** Coordinator: how long JetStream waits for an ack before redelivering a task; work in progress extends it. */
    ackWaitSeconds: z.number().int().min(5).max(3600).default(30),
    /** Coordinator: deliveries of one task before JetStream gives up on it. */
    maxDeliver: z.number().int().min(1).max(1000).default(20),
    /** Coordinator: copies of each stream (and its queues) in a NATS cluster: 3 keeps working when one node (site) is lost; 1 on a single server. */
    replicas: z.number().int().min(1).max(5).default(1),
  })
  .strict();

export type NatsConfig = z.infer<typeof natsSchema>;
