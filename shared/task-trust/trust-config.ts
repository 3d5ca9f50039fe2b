// The `trust` section of an agent's config: the coordinator's public key the agent checks every
// task's signature with (and, on storage agents, every call's grant). Without it an agent runs
// unsigned tasks only when its config says `trust.insecure: true`, warned about at start.
import { z } from 'zod';
import type { Logger } from '../logging/index.js';
import { readVerifier } from '../signing/index.js';
import { TaskTrust } from './task-trust.js';

export const trustSchema = z
  .object({
    /** The coordinator's Ed25519 public key (PEM file, `deltachain keys generate` makes it: signing.pub). */
    coordinatorKey: z.string().min(1).optional(),
    /** Run tasks without checking who signed them. For tests and throw-away set-ups only. */
    insecure: z.boolean().default(false),
  })
  .strict()
  .default({ insecure: false });

export type TrustConfig = z.infer<typeof trustSchema>;

/** Refines an agent config: a key, or an explicit `insecure`. */
export function requireTaskTrust(config: { trust: TrustConfig }, ctx: z.RefinementCtx): void {
  if (config.trust.coordinatorKey !== undefined || config.trust.insecure) return;
  ctx.addIssue({
    code: 'custom',
    path: ['trust', 'coordinatorKey'],
    message:
      "the coordinator's public key (PEM file; `deltachain keys generate` makes the pair) is needed to check the signature on every task; or trust.insecure: true to run unsigned tasks from anyone who can publish on this agent's queue",
  });
}

/** The agent's task gate from its config (reads the key file now: a bad path stops the start). */
export function taskTrustOf(trust: TrustConfig, role: 'host' | 'storage', scope: string, logger: Logger): TaskTrust {
  if (trust.coordinatorKey === undefined) {
    logger.warn({ role, scope }, 'trust.insecure: tasks are run without checking the coordinator\'s signature');
    return new TaskTrust({ coordinatorKey: undefined, role, scope });
  }
  return new TaskTrust({ coordinatorKey: readVerifier(trust.coordinatorKey), role, scope });
}
