// One stage of `npm run bench:restore-stages`, run in its own process with the agents' Node flags
// and malloc settings (agent/node-flags.ts), as the storage and host agents run: a gRPC client in
// the benchmark's own process (default flags, the stack's harness in its heap) spent ~13 CPU s
// receiving 4 GiB where the host agent spends ~4 relaying them.
//
//   read ROOT VM BACKUP DISK   the storage agent's side of GetDisk over the remote at ROOT, in this
//                              process: chain opened checked, VHD stream made, bytes dropped
//   get ADDRESS VM BACKUP DISK GetDisk (VHD) from a storage agent (plain gRPC), bytes dropped
//
// Prints one JSON line: {"bytes": N, "wallSec": S, "cpuSec": C} (CPU of this process over the stage).
import { credentials } from '@grpc/grpc-js';
import { GET_DISK_BLOCK_ROOM, GET_DISK_READ_AHEAD } from '../../agent/storage/grpc-service.js';
import type { RemoteContext } from '../../agent/storage/remote-context.js';
import { RemoteLayout } from '../../agent/storage/remote-layout.js';
import { openBackupDisk, serveVhd } from '../../agent/storage/serve-disk.js';
import { GetDiskFormat, StorageClient } from '../../shared/grpc/storage-client.js';
import { createLogger } from '../../shared/logging/index.js';

const [mode, where, vmUuid, backupId, diskKey] = process.argv.slice(2);
if ((mode !== 'read' && mode !== 'get') || !where || !vmUuid || !backupId || !diskKey) {
  process.stderr.write('usage: restore-stage-child.ts read ROOT|get ADDRESS  VM BACKUP DISK\n');
  process.exit(2);
}
const request = { vmUuid, backupId, diskKey };

async function read(root: string): Promise<number> {
  // openBackupDisk reads the layout only (and the rest of a context to report damage).
  const ctx = { remoteId: 'bench', layout: new RemoteLayout(root), logger: createLogger({ level: 'error' }), now: () => new Date() } as unknown as RemoteContext;
  const disk = await openBackupDisk(ctx, request);
  let bytes = 0;
  try {
    const { chunks, buffers } = serveVhd(disk.chain, { readAhead: GET_DISK_READ_AHEAD, blockRoom: GET_DISK_BLOCK_ROOM });
    for await (const chunk of chunks) {
      bytes += chunk.length;
      const buffer = buffers.holder(chunk);
      if (buffer !== undefined) buffers.give(buffer);
    }
  } finally {
    await disk.chain.close();
  }
  return bytes;
}

async function get(address: string): Promise<number> {
  const client = new StorageClient(address, credentials.createInsecure());
  let bytes = 0;
  try {
    for await (const part of client.getDiskParts(vmUuid!, backupId!, diskKey!, GetDiskFormat.GET_DISK_FORMAT_VHD)) {
      if (part.$case === 'vhdChunk') bytes += part.value.length;
    }
  } finally {
    client.close();
  }
  return bytes;
}

const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
const bytes = mode === 'read' ? await read(where) : await get(where);
const wallSec = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);
process.stdout.write(`${JSON.stringify({ bytes, wallSec, cpuSec: (used.user + used.system) / 1e6 })}\n`);
