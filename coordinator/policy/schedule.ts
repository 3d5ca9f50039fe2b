// Cron schedules with a time zone, through croner: validation with an operator-readable reason,
// and the next fire times after a given instant (the clock is always a parameter).
import { Cron } from 'croner';
import type { PolicySchedule } from './policy.js';

export interface ScheduleProblem {
  field: 'cron' | 'timeZone';
  message: string;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function cronFor(schedule: PolicySchedule): Cron {
  return new Cron(schedule.cron, { timezone: schedule.timeZone, paused: true, mode: '5-or-6-parts' });
}

/** Why a schedule cannot be used, or undefined when it can. */
export function describeScheduleProblem(cron: string, timeZone: string): ScheduleProblem | undefined {
  if (!isValidTimeZone(timeZone)) {
    return { field: 'timeZone', message: `unknown time zone "${timeZone}": use an IANA name such as "UTC" or "Europe/Paris"` };
  }
  let job: Cron;
  try {
    job = cronFor({ cron, timeZone });
  } catch (error) {
    const why = (error as Error).message.replace(/^CronPattern: /, '');
    return { field: 'cron', message: `invalid cron expression "${cron}": ${why} (5 fields: minute hour day-of-month month day-of-week)` };
  }
  if (job.nextRun(new Date()) === null) {
    return { field: 'cron', message: `cron expression "${cron}" never fires` };
  }
  return undefined;
}

/** The first `count` fire times strictly after `after`. */
export function nextFireTimes(schedule: PolicySchedule, after: Date, count = 1): Date[] {
  return cronFor(schedule).nextRuns(count, after);
}

/** The next fire time strictly after `after`, or undefined when the expression never fires again. */
export function nextFireTime(schedule: PolicySchedule, after: Date): Date | undefined {
  return cronFor(schedule).nextRun(after) ?? undefined;
}
