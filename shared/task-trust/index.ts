export { TASK_SIGNATURE_HEADER, TaskRefusedError, TaskTrust, signTask, type RefusalReason, type TaskMessage, type TaskTrustOptions } from './task-trust.js';
export { requireTaskTrust, taskTrustOf, trustSchema, type TrustConfig } from './trust-config.js';
