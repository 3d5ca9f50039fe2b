// A client process that uploads a disk slowly (one block every `delayMs`) and prints "sent N"
// after each accepted block, so a test can kill it mid-stream. Args: address vmUuid backupId blocks delayMs.
import { ChannelCredentials } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { StorageClient } from '../../shared/grpc/storage-client.js';
import { BLOCK, patternBlock } from './storage-harness.js';

const [address, vmUuid, backupId, blocks, delayMs] = process.argv.slice(2);
const client = new StorageClient(address!, ChannelCredentials.createInsecure());
const count = Number(blocks);
await client.putDisk(
  { backupId: backupId!, vmUuid: vmUuid!, diskKey: 'xvda', virtualSize: count * BLOCK, blockSize: BLOCK, footerUuid: randomUUID(), parentFooterUuid: '', timestampMs: Date.now() },
  (async function* () {
    for (let index = 0; index < count; index++) {
      yield { index, data: patternBlock(7, index) };
      await new Promise((r) => setTimeout(r, Number(delayMs)));
    }
  })(),
  { onProgress: (n) => process.stdout.write(`sent ${n}\n`) },
);
process.stdout.write('done\n');
client.close();
