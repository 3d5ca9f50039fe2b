// Sends hand-made PutDisk messages through the generated client, so tests can send what a
// correct client never would (a bad checksum, a wrong digest).
import { ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { DiskDigest } from '../../shared/grpc/disk-checksum.js';
import type { DiskBlock, DiskHeader } from '../../shared/proto/gen/deltachain/storage/v1/disk.js';
import { StorageServiceClient, type PutDiskResponse } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';

export async function rawPutDisk(address: string, header: DiskHeader, blocks: DiskBlock[], trailer?: { blockCount?: number; digest?: Buffer }): Promise<PutDiskResponse> {
  const client = new StorageServiceClient(address, ChannelCredentials.createInsecure());
  try {
    return await new Promise<PutDiskResponse>((resolve, reject) => {
      const call = client.putDisk((error: ServiceError | null, response?: PutDiskResponse) => (error ? reject(error) : resolve(response!)));
      call.on('error', () => undefined);
      const digest = new DiskDigest();
      call.write({ part: { $case: 'header', value: header } });
      for (const block of blocks) {
        digest.add(block.index, block.checksum);
        call.write({ part: { $case: 'block', value: block } });
      }
      call.write({ part: { $case: 'trailer', value: { blockCount: trailer?.blockCount ?? blocks.length, digest: trailer?.digest ?? digest.digest() } } });
      call.end();
    });
  } finally {
    client.close();
  }
}
