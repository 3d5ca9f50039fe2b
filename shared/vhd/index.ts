// The VHD module's public surface: readers, writers and streams over dynamic and differencing
// VHDs (format structures re-exported from ./format). Named exports only; each engineer adds the
// export lines of their own files.
export * from './format/index.js';
export type { VhdBlock, VhdDescription, ProgressSink } from './types.js';
export { VhdFile, type VhdFileOptions } from './vhd-file.js';
export { VhdWriter, type VhdWriterOptions, type VhdWriterResult } from './vhd-writer.js';
export { blocksInFileOrder, type BlockLayoutRules, type ByteRange } from './block-layout.js';
export { fsyncFolder } from './fsync-folder.js';
export { ChainReader, MAX_CHAIN_DEPTH } from './chain-reader.js';
export { VhdChainError } from './chain-error.js';
export { overlaySectors } from './sector-overlay.js';
export { parseVhdStream, MAX_GAP, MAX_BAT_BYTES, type VhdStream, type ParseVhdStreamOptions } from './stream-parser.js';
export { ChunkReader } from './chunk-reader.js';
export { syntheticVhdStream, planSyntheticLayout, type SyntheticStreamOptions, type SyntheticLayout } from './synthetic-stream.js';
export { checkVhdChain, type ChainCheckReport } from './tools/check-vhd-chain.js';
export { VhdCheckProblem, type CheckedFile } from './tools/check-vhd-file.js';
export { rawToVhd, type RawToVhdOptions, type RawToVhdResult } from './tools/raw-to-vhd.js';
export { vhdToRaw, type VhdToRawOptions, type VhdToRawResult } from './tools/vhd-to-raw.js';
