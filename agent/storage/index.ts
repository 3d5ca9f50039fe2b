// The storage agent: the remote format (docs/remote-format.md), the gRPC data plane and the
// tasks it runs near the data. Named exports only.
export { startStorageAgent, AGENT_VERSION, type RunningStorageAgent } from './storage-agent.js';
export { storageAgentConfigSchema, storageSectionSchema, type StorageAgentConfig } from './storage-config.js';
export { RemoteLayout, REMOTE_FORMAT_VERSION } from './remote-layout.js';
export {
  StorageError,
  StorageRequestError,
  StorageNotFoundError,
  StorageConflictError,
  StorageChecksumError,
  StorageDataError,
  StorageChainChangedError,
  RemoteFormatError,
  StorageAccessError,
} from './errors.js';
export { ID_PATTERN, UUID_PATTERN } from './ids.js';
