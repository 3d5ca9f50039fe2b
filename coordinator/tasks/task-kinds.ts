// The kinds of task and what a task is addressed to: a pool's host agents or a remote's storage
// agents.
export type TaskKind = 'backup' | 'merge' | 'delete' | 'scan' | 'restore' | 'verify' | 'release';
export type AddressKind = 'pool' | 'remote';
