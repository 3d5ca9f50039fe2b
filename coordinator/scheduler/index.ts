export { Scheduler, type SchedulerOptions } from './scheduler.js';
export { recordRun, type RecordedRun, type RunRequest } from './record-run.js';
export { dueFiring } from './due-firing.js';
export { backupIdFor } from './backup-id.js';
