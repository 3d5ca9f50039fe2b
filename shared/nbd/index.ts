// NBD client (fixed newstyle, TLS pinned to the pool's certificate, base:allocation) and a
// multi-connection disk reader. The wire format is exported whole so that a server (the lab
// pool's) encodes the same bytes.
export * as nbdWire from './protocol.js';
export { NbdClient, type NbdConnectOptions } from './client.js';
export { MAX_OPTION_REPLY_BYTES, DEFAULT_MAX_READ_BYTES, type NbdTlsOptions, type NbdExport } from './handshake.js';
export type { AllocationExtent } from './structured-reply.js';
export { NbdDiskReader, DEFAULT_NBD_CONNECTIONS, DEFAULT_NBD_MAX_IN_FLIGHT, type NbdDiskReaderOptions, type ByteRange, type RangeData } from './disk-reader.js';
export { NbdError, isConnectionLost, type NbdErrorCode } from './nbd-error.js';
