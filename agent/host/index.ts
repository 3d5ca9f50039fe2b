// The host agent's public surface: the process (config and start), and the operations it runs
// (backup and restore of one VM) for harnesses and benchmarks.
export { startHostAgent, HOST_AGENT_VERSION, type RunningHostAgent } from './host-agent.js';
export { hostAgentConfigSchema, type HostAgentConfig } from './host-agent-config.js';
export { backupVm, type BackupContext } from './backup/backup-vm.js';
export type { BackupOutcome, BackupRequest, BackupTarget, DiskOutcome } from './backup/backup-types.js';
export { restoreVm, type RestoreContext } from './restore/restore-vm.js';
export type { RestoreOutcome, RestoreRequest, BackupSource } from './restore/restore-types.js';
export { RemoteStorage } from './remote/remote-storage.js';
export { connectXapi, type XapiConnectionOptions } from './xapi/connect-xapi.js';
export { HostXapi } from './xapi/host-xapi.js';
export { XapiCallError } from './xapi/xapi-call-error.js';
