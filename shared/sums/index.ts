// Block checksum files (`.sums`, docs/remote-format.md §6): the format, and a streaming reader.
// Used by the storage agent and by `deltachain vhd check`; knows nothing of remotes or chains.
export {
  SUMS_MAGIC,
  SUMS_VERSION,
  SUMS_HEADER_SIZE,
  SUMS_FLAG_FULL,
  SUMS_FLAG_UNKNOWN,
  SUMS_FLAG_MARKED,
  SUMS_FLAG_PIECES,
  SumsFormatError,
  decodeSums,
  decodeSumsEntry,
  decodeSumsHeader,
  encodeSums,
  entryRuleChecksum,
  isAllOnes,
  sumsEntrySize,
  sumsFileSize,
  type BlockSums,
  type SumsEntry,
  type SumsHeader,
} from './sums-format.js';
export { SumsCursor, SumsReader } from './sums-reader.js';
export { compareBlocks, type BadBlockFinding, type BlockComparison } from './compare-blocks.js';
