// Paces a stream to a byte rate (the slowStreams fault): after each chunk, sleeps until the bytes
// sent so far fit the rate. The rate is read on every chunk, so arming or clearing the fault
// applies to streams already running.
import { setTimeout as sleep } from 'node:timers/promises';

export class Throttle {
  private bytes = 0;
  private started = Date.now();
  private lastRate: number | undefined;

  constructor(private readonly rate: () => number | undefined) {}

  async pass(chunkBytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.rate();
    if (rate !== this.lastRate) {
      this.lastRate = rate;
      this.bytes = 0;
      this.started = Date.now();
    }
    if (rate === undefined) return;
    this.bytes += chunkBytes;
    const due = this.started + (this.bytes / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait, undefined, signal === undefined ? {} : { signal });
  }
}
