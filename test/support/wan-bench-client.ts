// The client side of `npm run bench:wan`, in a process of its own so its CPU and peak RSS are its
// own (what a host agent's data path costs): argv[2] is JSON (WanClientJob). `put` streams `count`
// pattern blocks with StorageClient.putDisk and commits the backup; `get` reads that disk back with
// GetDisk (VHD, as a restore does) and checks it carried every block. Prints one JSON line
// (WanClientResult) and exits.
import { readFileSync } from 'node:fs';
import { StorageClient, GetDiskFormat } from '../../shared/grpc/storage-client.js';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { BLOCK, diskHeader, patternBlocks, records } from './storage-harness.js';

export interface WanClientJob {
  mode: 'put' | 'get';
  address: string;
  vmUuid: string;
  backupId: string;
  count: number;
  tls: { ca: string; cert: string; key: string };
  /** The signed grant, base64. */
  grant: string;
}

export interface WanClientResult {
  seconds: number;
  /** Seconds from the last block handed to gRPC to the end (put: the storage agent's trailer check, fsync, the commit's round trips). */
  tailSeconds: number;
  bytes: number;
  cpuSec: number;
  peakMiB: number;
}

const job = JSON.parse(process.argv[2]!) as WanClientJob;
const grant = Buffer.from(job.grant, 'base64');
const client = new StorageClient(job.address, channelCredentials({ ...job.tls, insecure: false }));
const cpu0 = process.cpuUsage();
const started = performance.now();
let bytes = 0;
let lastBlock = started;
if (job.mode === 'put') {
  const indexes = Array.from({ length: job.count }, (_, i) => i);
  const header = diskHeader({ vmUuid: job.vmUuid, backupId: job.backupId, virtualSize: job.count * BLOCK });
  await client.putDisk(header, patternBlocks(1, indexes), { grant, onProgress: (_, sent) => ((bytes = sent), (lastBlock = performance.now())) });
  await client.commitBackup(
    { backupId: job.backupId, vmUuid: job.vmUuid, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(job.vmUuid), policyJson: '', diskSources: [] },
    { grant },
  );
} else {
  let blocks = 0;
  for await (const part of client.getDiskParts(job.vmUuid, job.backupId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD, { grant })) {
    if (part.$case === 'vhdChunk') bytes += part.value.length;
    else if (part.$case === 'block') (blocks++, (bytes += part.value.data.length));
  }
  if (bytes < job.count * BLOCK) throw new Error(`GetDisk carried ${bytes} bytes (${blocks} blocks), expected at least ${job.count * BLOCK}`);
}
const ended = performance.now();
const seconds = (ended - started) / 1000;
const used = process.cpuUsage(cpu0);
const peakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;
client.close();
const result: WanClientResult = { seconds, tailSeconds: job.mode === 'put' ? (ended - lastBlock) / 1000 : 0, bytes, cpuSec: (used.user + used.system) / 1e6, peakMiB };
process.stdout.write(`${JSON.stringify(result)}\n`);
