// When a policy should fire: the newest scheduled time in (after, now]. A coordinator that was
// down across several firings catches up once — with the most recent one — rather than
// replaying every missed firing. `after` is the last recorded firing, or the moment the policy
// was created or enabled, so a new policy never fires for times before it existed.
import { nextFireTime, type PolicySchedule } from '../policy/index.js';

/** Upper bound on firings skipped over when catching up (a per-second schedule down for days). */
const MAX_SKIPPED = 100_000;

export function dueFiring(schedule: PolicySchedule, after: Date, now: Date): Date | undefined {
  let due: Date | undefined;
  let next = nextFireTime(schedule, after);
  for (let skipped = 0; next !== undefined && next <= now && skipped < MAX_SKIPPED; skipped++) {
    due = next;
    next = nextFireTime(schedule, next);
  }
  return due;
}
