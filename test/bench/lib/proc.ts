// What the kernel says about a running process: CPU time, current and peak RSS, bytes read and
// written. Benchmarks read these before and after a piece of work on the real processes (host
// agent, storage agent, coordinator) instead of trusting the processes' own counters.
import { readFile, writeFile } from 'node:fs/promises';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux x86_64

export interface ProcSample {
  /** User + system CPU seconds used so far (threads included). */
  cpuSec: number;
  userSec: number;
  sysSec: number;
  rssMiB: number;
  /** VmHWM: peak RSS since start or since the last `resetPeak`. */
  peakMiB: number;
  /** Bytes passed to read()-like calls (page cache hits included). */
  rchar: number;
  wchar: number;
  /** Bytes fetched from the storage layer. */
  readBytes: number;
  writeBytes: number;
}

export async function readProc(pid: number): Promise<ProcSample> {
  const [stat, status, io] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
    readFile(`/proc/${pid}/io`, 'utf8').catch(() => ''),
  ]);
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userSec = Number(fields[11]) / TICKS_PER_SECOND;
  const sysSec = Number(fields[12]) / TICKS_PER_SECOND;
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const ioField = (name: string): number => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
  return {
    cpuSec: userSec + sysSec,
    userSec,
    sysSec,
    rssMiB: kib('VmRSS') / 1024,
    peakMiB: kib('VmHWM') / 1024,
    rchar: ioField('rchar'),
    wchar: ioField('wchar'),
    readBytes: ioField('read_bytes'),
    writeBytes: ioField('write_bytes'),
  };
}

/** Resets the process's VmHWM to its current RSS (writing 5 to clear_refs), so the next peak is this phase's own. */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** The difference of two samples of one process: CPU and I/O used between them; peak is `after`'s. */
export function procDelta(before: ProcSample, after: ProcSample): ProcSample {
  return {
    cpuSec: after.cpuSec - before.cpuSec,
    userSec: after.userSec - before.userSec,
    sysSec: after.sysSec - before.sysSec,
    rssMiB: after.rssMiB,
    peakMiB: after.peakMiB,
    rchar: after.rchar - before.rchar,
    wchar: after.wchar - before.wchar,
    readBytes: after.readBytes - before.readBytes,
    writeBytes: after.writeBytes - before.writeBytes,
  };
}
