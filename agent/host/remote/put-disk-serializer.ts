// PutDisk's request encoder for the host agent's stub: the data plane's own
// (shared/grpc/put-disk-encoding.ts). Block messages are written straight into one Buffer with a
// single copy of the data before gRPC frames it; a block the upload has already encoded into one
// of its reused buffers (DiskUpload) passes through unchanged. Header and trailer messages (small)
// go through the generated encoder.
export { serializePutDiskRequest } from '../../../shared/grpc/put-disk-encoding.js';
