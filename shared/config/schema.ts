// The configuration schema. One file per process (coordinator, storage agent, host agent, lab
// pool) in JSON; each section is optional here and required by the process that uses it.
// Every field documents its unit. Parsed once at start into a frozen object passed down.
import { z } from 'zod';

export const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Human-readable lines instead of JSON; defaults to whether stdout is a terminal. */
    pretty: z.boolean().optional(),
  })
  .strict();

/** TLS material, as file paths. `insecure: true` is required to run without TLS. */
export const tlsSchema = z
  .object({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    insecure: z.boolean().default(false),
  })
  .strict()
  .refine((tls) => tls.insecure || (tls.cert !== undefined && tls.key !== undefined) || tls.ca !== undefined, {
    message: 'give cert and key (and ca for mutual TLS), or set insecure: true to run in plaintext',
  });

export const configSchema = z
  .object({
    log: logSchema.default({ level: 'info' }),
  })
  .passthrough();

export type Config = z.infer<typeof configSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
