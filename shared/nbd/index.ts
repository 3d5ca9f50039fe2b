// NBD client (fixed newstyle, TLS pinned to the pool's certificate) and a multi-connection disk
// reader. The wire format is exported whole so that a server (the lab pool's) encodes the same bytes.
export * as nbdWire from './protocol.js';
export { NbdClient, MAX_OPTION_REPLY_BYTES, DEFAULT_MAX_READ_BYTES, type NbdConnectOptions, type NbdTlsOptions, type NbdExport } from './client.js';
export { NbdDiskReader, DEFAULT_NBD_CONNECTIONS, type NbdDiskReaderOptions, type ByteRange, type RangeData } from './disk-reader.js';
export { NbdError, isConnectionLost, type NbdErrorCode } from './nbd-error.js';
