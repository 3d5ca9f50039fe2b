export type { Policy, PolicySettings, PolicySchedule, VmSelection } from './policy.js';
export { policySettingsSchema, parsePolicySettings, NAME_PATTERN } from './policy-schema.js';
export { describeScheduleProblem, isValidTimeZone, nextFireTime, nextFireTimes, type ScheduleProblem } from './schedule.js';
