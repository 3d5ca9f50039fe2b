// The kinds of task and what a task is addressed to: a pool's host agents or a remote's storage
// agents.
import type { TaskPayloads } from './task-payloads.js';

export type TaskKind = keyof TaskPayloads;
export type AddressKind = 'pool' | 'remote';
