// The VHD module's public surface: readers, writers and streams over dynamic and differencing
// VHDs (format structures re-exported from ./format). Named exports only; each engineer adds the
// export lines of their own files.
export * from './format/index.js';
export type { VhdBlock, VhdDescription, ProgressSink } from './types.js';
export { VhdFile, type VhdFileOptions } from './vhd-file.js';
export { VhdWriter, type VhdWriterOptions, type VhdWriterResult } from './vhd-writer.js';
export { blocksInFileOrder, type BlockLayoutRules, type ByteRange } from './block-layout.js';
export { ChainReader, MAX_CHAIN_DEPTH, type BlockCheck, type ChainReaderOptions } from './chain-reader.js';
export { alignedBuffer } from './direct-io.js';
export { VhdChainError } from './chain-error.js';
export { forEachMarkedRun, overlaySectors } from './sector-overlay.js';
export { parseVhdStream, MAX_GAP, MAX_BAT_BYTES, type VhdStream, type ParseVhdStreamOptions } from './stream-parser.js';
export { ChunkReader } from './chunk-reader.js';
export { syntheticVhdStream, syntheticVhdChunks, planSyntheticLayout, type SyntheticStreamOptions, type SyntheticLayout } from './synthetic-stream.js';
export { checkVhdChain, type ChainCheckReport } from './tools/check-vhd-chain.js';
export { VhdCheckProblem, type CheckedFile } from './tools/check-vhd-file.js';
export { rawToVhd, type RawToVhdOptions, type RawToVhdResult } from './tools/raw-to-vhd.js';
export { vhdToRaw, type VhdToRawOptions, type VhdToRawResult } from './tools/vhd-to-raw.js';
export { mergeVhd, findInterruptedMerges, VhdMergeError, type MergeOptions, type MergeResult } from './merge.js';
export { MergeInjectedFailure, type MergePoint } from './merge-run.js';
export { MergeLockedError } from './merge-lock.js';
export {
  readMergeState,
  listMergeStates,
  mergeStatePath,
  mergeExplainsUuidMismatch,
  MergeStateError,
  MERGE_STATE_VERSION,
  type MergeState,
  type MergeStep,
} from './merge-state.js';
