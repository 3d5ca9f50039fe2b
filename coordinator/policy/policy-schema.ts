// Validation of policy settings from outside (CLI flags, the control API, a JSON file): zod
// schemas whose messages name the field and say what is allowed. Cron expressions and time
// zones are checked by really computing a next fire time with croner.
import { z } from 'zod';
import { InvalidInputError } from '../../shared/errors.js';
import { formatIssues } from '../../shared/config/index.js';
import { describeScheduleProblem } from './schedule.js';
import type { PolicySettings } from './policy.js';
import { UUID_PATTERN } from '../../shared/ids.js';

/** Pool, remote and policy names: the id pattern of the task envelopes. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const TAG_PATTERN = /^[^\s,][^,]{0,127}$/;

const nameField = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    message: `${what} must be 1 to 64 characters: lower-case letters, digits, '_' or '-', starting with a letter or digit`,
  });

const selectionSchema = z
  .object({
    vmUuids: z
      .array(z.string().transform((s) => s.toLowerCase()).pipe(z.string().regex(UUID_PATTERN, { message: 'expected a VM uuid like 0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10' })))
      .default([]),
    tags: z.array(z.string().regex(TAG_PATTERN, { message: 'a tag is 1 to 128 characters, no commas, not starting with a space' })).default([]),
    pools: z.array(nameField('a pool name')).default([]),
  })
  .strict()
  .refine((s) => s.vmUuids.length + s.tags.length + s.pools.length > 0, {
    message: 'select at least one VM: give VM uuids, tags or pools',
  });

const scheduleSchema = z
  .object({
    cron: z.string().trim().min(1, { message: 'give a cron expression, e.g. "0 2 * * *" for 02:00 every day' }),
    timeZone: z.string().trim().min(1).default('UTC'),
  })
  .strict()
  .superRefine((schedule, context) => {
    const problem = describeScheduleProblem(schedule.cron, schedule.timeZone);
    if (problem) context.addIssue({ code: 'custom', message: problem.message, path: [problem.field] });
  });

const count = (what: string, min: number, max: number) =>
  z
    .number({ message: `${what} must be a whole number from ${min} to ${max}` })
    .int({ message: `${what} must be a whole number from ${min} to ${max}` })
    .min(min, { message: `${what} must be at least ${min}` })
    .max(max, { message: `${what} must be at most ${max}` });

export const policySettingsSchema = z
  .object({
    name: nameField('the policy name'),
    selection: selectionSchema,
    remotes: z
      .array(nameField('a remote name'))
      .min(1, { message: 'give at least one remote to write backups to' })
      .refine((r) => new Set(r).size === r.length, { message: 'a remote is listed twice' }),
    schedule: scheduleSchema,
    retention: count('retention (backups kept per VM and remote)', 1, 10000),
    fullInterval: count('the full backup interval (0 = never, 1 = always full)', 0, 10000).default(0),
    concurrency: count('concurrency (VMs per pool at once)', 1, 1000).default(2),
    purgeSnapshotData: z.boolean({ message: 'purgeSnapshotData must be true or false' }).default(true),
    enabled: z.boolean().default(true),
  })
  .strict();

/** Validates settings; throws InvalidInputError naming every bad field. */
export function parsePolicySettings(raw: unknown, source = 'policy'): PolicySettings {
  const result = policySettingsSchema.safeParse(raw);
  if (!result.success) throw new InvalidInputError(`${source}: ${formatIssues(result.error.issues)}`);
  return result.data as PolicySettings;
}
