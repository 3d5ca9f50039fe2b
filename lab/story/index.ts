// `npm run lab`'s public surface, for the end-to-end tests: the lab stack (every part a real
// process), the story and its checks, and the steps the tests share with the story (runs and
// restores through the control API, guest writes, digests, an operator's XAPI session).
export { startLabStack, type LabStack, type LabStackOptions, type LabPoolSpec, type StackPool, type StackRemote, type FleetInput, type MetricsEndpoint } from './lab-stack.js';
export { TEST_TIMINGS, DEMO_TIMINGS, type LabTimings } from './lab-configs.js';
export { runLab, STORY } from './lab-command.js';
export { playStory, type StoryOptions, type StoryOutcome } from './story.js';
export { checkDelta, checkFull, expectedDeltaBytes, type Check } from './story-checks.js';
export { runPolicyAndWait, restoreAndWait, waitForRun, waitForTask, type RestoreOutcome } from './run-and-wait.js';
export { summarizeRun, backupKind, type RunSummary, type BackupOutcome, type RetentionOutcome } from './run-summary.js';
export { planGuestWrites, applyGuestWrites, type PlannedWrite, type WriteDone } from './guest-writes.js';
export { digestVm, compareDigests, type DiskDigestEntry } from './disk-digests.js';
export { PoolXapi } from './pool-xapi.js';
export { portOpen } from './probe-services.js';
export { startLabNats, type LabNats, type LabNatsOptions } from './lab-nats.js';
export { ProcessSupervisor } from './process-supervisor.js';
