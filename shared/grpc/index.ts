// gRPC for Deltachain: credentials from config, the data-plane checksums, the storage client.
export { serverCredentials, channelCredentials, isMutualTls, warnIfInsecure } from './credentials.js';
export { CHECKSUM_SIZE, DiskDigest, blockChecksum, markedChecksum, storedBlockChecksum, digestHex, ruleChecksum, WRITE_RULE, type ChecksumRule } from './disk-checksum.js';
export { StorageClient, MAX_MESSAGE_BYTES, GetDiskFormat, type OutgoingBlock, type PutDiskOptions } from './storage-client.js';
export { grantMetadata, type StorageCallOptions } from './grant-metadata.js';
export { markedSectors, packBlock, expandPacked, forEachMarkedRun } from './packed-block.js';
