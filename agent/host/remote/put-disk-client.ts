// A gRPC client for PutDisk only: the generated service definition with its request encoder
// replaced by the hand-written one (put-disk-serializer.ts), so disk blocks are copied once
// before gRPC frames them. Same wire format, same server.
import { makeGenericClientConstructor, type ChannelCredentials, type Client, type ClientWritableStream, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { MAX_MESSAGE_BYTES } from '../../../shared/grpc/index.js';
import { StorageServiceService, type PutDiskRequest, type PutDiskResponse } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { serializePutDiskRequest } from './put-disk-serializer.js';
import { PUT_DISK_RETRY_BUFFER_BYTES } from '../../../shared/grpc/put-disk-encoding.js';
import { installClientFramedMessages } from '../../../shared/grpc/framed-message.js';

const PutDiskService = {
  putDisk: { ...StorageServiceService.putDisk, requestSerialize: serializePutDiskRequest },
};

interface PutDiskStub extends Client {
  putDisk(metadata: Metadata, callback: (error: ServiceError | null, response?: PutDiskResponse) => void): ClientWritableStream<PutDiskRequest>;
}

const PutDiskStubConstructor = makeGenericClientConstructor(PutDiskService, 'deltachain.storage.v1.StorageService') as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Record<string, unknown>): PutDiskStub;
};

export function createPutDiskStub(address: string, credentials: ChannelCredentials, channelOptions: Record<string, number> = {}): PutDiskStub {
  installClientFramedMessages(); // block messages sent from their encoder's buffer (disk-upload.ts)
  return new PutDiskStubConstructor(address, credentials, {
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    ...channelOptions,
    // What clientFrame counts on: messages larger than this are never kept for a retry.
    'grpc.per_rpc_retry_buffer_size': PUT_DISK_RETRY_BUFFER_BYTES,
  });
}

export type { PutDiskStub };
