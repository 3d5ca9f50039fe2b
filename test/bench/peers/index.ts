// The peers the benchmark suite compares Deltachain with — restic, borg — and the raw-copy limits
// (loopback TCP with fsync, local cp), each measured by the kernel's counters of its process tree.
// Settings and fairness notes: docs/benchmarks.md, section "Peers".
export { measureCommand, measureThenFsync, PeerCommandError, type CommandMeasure, type CommandOptions } from './measure-command.js';
export { ensurePeerTools } from './peer-tools.js';
export type { PeerBackupMeasure, PeerRepo } from './peer-backup.js';
export { ResticRepo } from './restic-repo.js';
export { BorgRepo } from './borg-repo.js';
export { rawTcpCopy, copyFile } from './raw-copy.js';
export { dirBytes } from './dir-bytes.js';
export { writeRandomFile, overwriteRuns } from './file-change.js';
