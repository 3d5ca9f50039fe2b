// Waits for a storage agent that went away (killed, restarting, its connection reset) to answer
// again, asking it for the VM's backups (a cheap call) every 250 ms at first, then up to every
// 5 s, for at most `waitMs`. A storage agent finishes interrupted merges and removes what crashed
// uploads left before it answers, so once it does, an upload can start over. When it does not
// come back in time, the failure that sent us here is thrown (retryable: the coordinator may try
// the task again later).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../shared/logging/index.js';
import type { RemoteStorage } from '../remote/remote-storage.js';
import type { StorageCallError } from '../remote/storage-call-error.js';

const FIRST_PAUSE_MS = 250;
const LONGEST_PAUSE_MS = 5000;

export async function waitForStorage(storage: RemoteStorage, vmUuid: string, waitMs: number, logger: Logger, failure: StorageCallError): Promise<void> {
  const started = Date.now();
  let pause = FIRST_PAUSE_MS;
  for (let asked = 1; ; asked++) {
    const left = waitMs - (Date.now() - started);
    try {
      await storage.probe(vmUuid, Math.max(1000, Math.min(left, 10_000)));
      if (asked > 1) logger.info({ remote: storage.remoteId, waitedMs: Date.now() - started }, 'storage agent answers again');
      return;
    } catch (error) {
      if (asked === 1) logger.warn({ remote: storage.remoteId, waitMs, reason: (error as Error).message }, 'waiting for the storage agent to answer again');
      if (Date.now() - started + pause > waitMs) throw failure;
    }
    await sleep(pause);
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
}
