// The `nats` section of an agent's or the coordinator's config. Units in the names.
import { z } from 'zod';
import { DEFAULT_NAMESPACE, TOKEN_PATTERN } from './names.js';

export const natsSchema = z
  .object({
    /** Server URLs, e.g. "nats://127.0.0.1:4222". */
    servers: z.array(z.string().min(1)).min(1).default(['nats://127.0.0.1:4222']),
    /** Prefix of every subject and stream (names.ts); tests use their own. */
    namespace: z.string().regex(TOKEN_PATTERN).default(DEFAULT_NAMESPACE),
    user: z.string().optional(),
    password: z.string().optional(),
    token: z.string().optional(),
    /** How long JetStream waits for an ack before redelivering; work in progress extends it. */
    ackWaitSeconds: z.number().int().min(5).max(3600).default(30),
    /** Deliveries of one task before JetStream gives up on it. */
    maxDeliver: z.number().int().min(1).max(1000).default(20),
  })
  .strict();

export type NatsConfig = z.infer<typeof natsSchema>;
