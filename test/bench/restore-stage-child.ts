// One stage of `npm run bench:restore-stages`, run in its own process with the agents' Node flags
// and malloc settings (agent/node-flags.ts), as the storage and host agents run: a gRPC client in
// the benchmark's own process (default flags, the stack's harness in its heap) spent ~13 CPU s
// receiving 4 GiB where the host agent spends ~4 relaying them.
//
//   read ROOT VM BACKUP DISK   the storage agent's side of GetDisk over the remote at ROOT, in this
//                              process: chain opened checked, VHD stream made, bytes dropped
//   get ADDRESS VM BACKUP DISK GetDisk (VHD) from a storage agent (plain gRPC), bytes dropped
//   send ROOT VM BACKUP DISK   the read, its chunks written to the one client of a plain TCP socket
//                              on loopback (first prints {"port": P}): what the bytes cost on a
//                              socket without gRPC's framing
//   sink PORT                  connects to a `send` and drops what it reads
//
// Prints one JSON line: {"bytes": N, "wallSec": S, "cpuSec": C} (CPU of this process over the stage).
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import { GET_DISK_BLOCK_ROOM } from '../../agent/storage/grpc-service.js';
import type { RemoteContext } from '../../agent/storage/remote-context.js';
import { RemoteLayout } from '../../agent/storage/remote-layout.js';
import { GET_DISK_READ_AHEAD, openBackupDisk, serveVhd } from '../../agent/storage/serve-disk.js';
import { GetDiskFormat, StorageClient } from '../../shared/grpc/storage-client.js';
import { createLogger } from '../../shared/logging/index.js';

const [mode, where, vmUuid, backupId, diskKey] = process.argv.slice(2);
const usable = mode === 'sink' ? Number.isInteger(Number(where)) : ['read', 'get', 'send'].includes(mode ?? '') && where && vmUuid && backupId && diskKey;
if (!usable) {
  process.stderr.write('usage: restore-stage-child.ts read ROOT|get ADDRESS|send ROOT  VM BACKUP DISK, or sink PORT\n');
  process.exit(2);
}
const request = { vmUuid: vmUuid!, backupId: backupId!, diskKey: diskKey! };

/** The chain's VHD stream as GetDisk makes it, each chunk handed to `use` (awaited) and then given back. */
async function read(root: string, use: (chunk: Buffer) => Promise<void> | void = () => undefined): Promise<number> {
  // openBackupDisk reads the layout only (and the rest of a context to report damage).
  const ctx = { remoteId: 'bench', layout: new RemoteLayout(root), logger: createLogger({ level: 'error' }), now: () => new Date() } as unknown as RemoteContext;
  const disk = await openBackupDisk(ctx, request);
  let bytes = 0;
  try {
    const { chunks, buffers } = serveVhd(disk.chain, { readAhead: GET_DISK_READ_AHEAD, blockRoom: GET_DISK_BLOCK_ROOM });
    for await (const chunk of chunks) {
      bytes += chunk.length;
      await use(chunk);
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

/** Waits for one client on a loopback port (printed first), then writes the read to it. */
async function send(root: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  const [socket] = (await once(server, 'connection')) as [Socket];
  server.close();
  // Each chunk's buffer is reused once given back: wait until the socket took it.
  const bytes = await read(root, (chunk) => new Promise<void>((resolve, reject) => socket.write(chunk, (error) => (error ? reject(error) : resolve()))));
  await new Promise<void>((resolve) => socket.end(resolve));
  return bytes;
}

async function sink(port: number): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  let bytes = 0;
  for await (const chunk of socket) bytes += (chunk as Buffer).length;
  return bytes;
}

const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
const bytes = mode === 'read' ? await read(where!) : mode === 'get' ? await get(where!) : mode === 'send' ? await send(where!) : await sink(Number(where));
const wallSec = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);
process.stdout.write(`${JSON.stringify({ bytes, wallSec, cpuSec: (used.user + used.system) / 1e6 })}\n`);
