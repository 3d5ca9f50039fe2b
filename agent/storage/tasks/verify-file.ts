// One chain file checked for `verify` (docs/remote-format.md §6): every allocated block re-read
// and compared with its `.sums` entry (shared/sums compare-blocks.ts), the table's trailing hash,
// and its disk digest against the digest the metadata listing the file recorded. Nothing is
// modified.
import { digestHex } from '../../../shared/grpc/disk-checksum.js';
import { errorMessage } from '../../../shared/errors.js';
import { SumsReader, compareBlocks, type BadBlockFinding } from '../../../shared/sums/index.js';
import { VhdFile } from '../../../shared/vhd/index.js';
import { sumsPathOf } from '../remote-layout.js';

export interface FileFindings {
  /** The VHD, relative to the remote root. */
  path: string;
  bad: BadBlockFinding[];
  /** Problems of the file that are not one block. */
  problems: string[];
}

export interface VerifyFileInput {
  /** Absolute path of the VHD. */
  path: string;
  /** Relative path, for reports. */
  shown: string;
  /** The digest the metadata listing the file recorded ("sha256:hex"), when one does. */
  recordedDigest: string | undefined;
  /** Called after each block read. */
  onBlock: () => void;
}

export async function verifyFile(input: VerifyFileInput): Promise<FileFindings> {
  const out: FileFindings = { path: input.shown, bad: [], problems: [] };
  let file: VhdFile;
  try {
    file = await VhdFile.open(input.path);
  } catch (error) {
    out.problems.push(errorMessage(error));
    return out;
  }
  let reader: SumsReader | undefined;
  try {
    if (file.trailingFooterProblem) out.problems.push(file.trailingFooterProblem);
    reader = await SumsReader.open(sumsPathOf(input.path), `${input.shown}.sums`);
    if (reader.blockSize !== file.blockSize) out.problems.push(`checksums are for ${reader.blockSize}-byte blocks, the disk has ${file.blockSize}-byte blocks`);
    const { bad, digest } = await compareBlocks(file, reader.entries(), input.onBlock);
    out.bad.push(...bad);
    if (input.recordedDigest !== undefined && digestHex(digest) !== input.recordedDigest) {
      out.problems.push(`the digest of its checksums (${digestHex(digest)}) differs from the metadata's (${input.recordedDigest})`);
    }
  } catch (error) {
    out.problems.push(`checksums unreadable: ${errorMessage(error)}`);
  } finally {
    await reader?.close();
    await file.close();
  }
  return out;
}
