// CPU seconds of several processes over one piece of work, from /proc (../lib/proc.ts), plus the
// lab pool's read bytes (rchar): what it read to serve an export.
import { procDelta, readProc, type ProcSample } from '../lib/proc.js';
import type { ProcessName } from './types.js';

export interface ProcessWindow {
  /** CPU seconds per process since the window opened; and the lab's rchar growth. */
  close(): Promise<{ cpuByProcess: Record<ProcessName, number>; labReadBytes: number }>;
}

export async function openWindow(pids: Record<ProcessName, number>): Promise<ProcessWindow> {
  const names = Object.keys(pids) as ProcessName[];
  const before = await sampleAll(pids, names);
  return {
    async close() {
      const after = await sampleAll(pids, names);
      const delta = Object.fromEntries(names.map((n) => [n, procDelta(before[n]!, after[n]!)])) as Record<ProcessName, ProcSample>;
      return {
        cpuByProcess: Object.fromEntries(names.map((n) => [n, delta[n].cpuSec])) as Record<ProcessName, number>,
        labReadBytes: delta.labPool.rchar,
      };
    },
  };
}

async function sampleAll(pids: Record<ProcessName, number>, names: ProcessName[]): Promise<Partial<Record<ProcessName, ProcSample>>> {
  const samples = await Promise.all(names.map((n) => readProc(pids[n])));
  return Object.fromEntries(names.map((n, i) => [n, samples[i]]));
}
