// Checks one VHD file on its own, stopping at the first problem, in the order a reader meets
// them: both footers (each sound, byte-identical), then everything VhdFile.open validates
// (header, BAT inside the file, blocks clear of the metadata and of each other), then the same
// layout rules again with the trailing footer and the parent locator data reserved, then every
// allocated block read back — and, when the file has a `.sums` table beside it (how a remote
// keeps its files, docs/remote-format.md §6), compared with its stored checksum, naming every
// bad block. The chain around the file is check-vhd-chain.ts.
import { access, open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { errorMessage } from '../../errors.js';
import { SumsReader, compareBlocks, type BadBlockFinding } from '../../sums/index.js';
import { blocksInFileOrder, type ByteRange } from '../block-layout.js';
import {
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  NIL_UUID,
  PlatformCode,
  SECTOR_SIZE,
  batSize,
  decodeFooter,
  type DynamicHeader,
  type Footer,
} from '../format/index.js';
import { VhdFile } from '../vhd-file.js';

/** A problem found by `vhd check`: which file, and why, in one line. */
export class VhdCheckProblem extends Error {
  override name = 'VhdCheckProblem';
  readonly code = 'VHD_CHECK_FAILED';
  constructor(
    readonly file: string,
    readonly reason: string,
    /** Blocks that failed the data check against the file's `.sums`, when that is the problem. */
    readonly badBlocks: BadBlockFinding[] = [],
  ) {
    super(`${file}: ${reason}`);
  }
}

export interface CheckOptions {
  /** Compare blocks with `FILE.sums` when it exists (default true). */
  sums?: boolean;
}

export interface CheckedFile {
  /** Absolute path. */
  path: string;
  fileSize: number;
  footer: Footer;
  header: DynamicHeader;
  allocatedBlocks: number;
  /** The `.sums` table the blocks were compared with, when they were. */
  sumsPath: string | undefined;
}

type Fail = (reason: string) => never;

/** Throws VhdCheckProblem naming `path` at the first problem. */
export async function checkVhdFile(path: string, options: CheckOptions = {}): Promise<CheckedFile> {
  const full = resolve(path);
  const fail: Fail = (reason) => {
    throw new VhdCheckProblem(path, reason);
  };
  await checkFooters(full, fail);
  let vhd: VhdFile;
  try {
    vhd = await VhdFile.open(full);
  } catch (error) {
    return fail(reasonOf(error, full));
  }
  try {
    checkLayout(vhd, fail);
    checkParentFields(vhd, fail);
    const sumsPath = options.sums === false ? undefined : await sumsBeside(full);
    if (sumsPath) await compareWithSums(vhd, path, sumsPath);
    else await readEveryBlock(vhd, fail);
    const { fileSize, footer, header } = vhd;
    return { path: full, fileSize, footer, header, allocatedBlocks: vhd.allocatedBlocks().length, sumsPath };
  } finally {
    await vhd.close();
  }
}

async function checkFooters(path: string, fail: Fail): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    return fail(`cannot open: ${errorMessage(error)}`);
  }
  try {
    const { size } = await handle.stat();
    const minimum = 2 * FOOTER_SIZE + HEADER_SIZE;
    if (size < minimum) fail(`${size} bytes is too small for a dynamic VHD (at least ${minimum})`);
    const end = size - FOOTER_SIZE;
    const copy = Buffer.alloc(FOOTER_SIZE);
    const trailing = Buffer.alloc(FOOTER_SIZE);
    await handle.read(copy, 0, FOOTER_SIZE, 0);
    await handle.read(trailing, 0, FOOTER_SIZE, end);
    const copyProblem = problemOf(() => decodeFooter(copy, 'footer copy at offset 0'));
    const trailingProblem = problemOf(() => decodeFooter(trailing, `footer at offset ${end}`));
    if (trailingProblem !== undefined) {
      const hint = copyProblem === undefined ? ' (the copy at offset 0 is sound: an interrupted write?)' : '';
      fail(`${trailingProblem}${hint}`);
    }
    if (decodeFooter(trailing).diskType === DiskType.Fixed) fail('fixed VHD: Deltachain reads dynamic and differencing disks only');
    if (copyProblem !== undefined) fail(copyProblem);
    if (!copy.equals(trailing)) fail(`footer copy at offset 0 differs from the footer at offset ${end}`);
  } finally {
    await handle.close();
  }
}

/** VhdFile allows blocks up to the file's end; here the trailing footer and locators are reserved too. */
function checkLayout(vhd: VhdFile, fail: Fail): void {
  const { header } = vhd;
  const dataOffset = vhd.footer.dataOffset!;
  const reserved: ByteRange[] = [
    { what: 'footer copy', start: 0, end: FOOTER_SIZE },
    { what: 'dynamic header', start: dataOffset, end: dataOffset + HEADER_SIZE },
    { what: 'BAT', start: header.tableOffset, end: header.tableOffset + batSize(header.maxTableEntries) },
  ];
  header.parentLocators.forEach((locator, i) => {
    if (locator.platformCode === PlatformCode.None || locator.platformDataLength === 0) return;
    const start = locator.platformDataOffset;
    const end = start + Math.ceil(locator.platformDataLength / SECTOR_SIZE) * SECTOR_SIZE;
    if (end > vhd.fileSize - FOOTER_SIZE) fail(`parent locator ${i} data at bytes ${start}..${end} lies outside the file`);
    reserved.push({ what: `parent locator ${i} data`, start, end });
  });
  try {
    blocksInFileOrder(vhd.bat, { blockBytes: vhd.bitmapSize + vhd.blockSize, end: vhd.fileSize - FOOTER_SIZE, reserved, where: '-' });
  } catch (error) {
    fail(errorMessage(error).replace(/^-: /, '').replace('end of the file', 'trailing footer'));
  }
}

function checkParentFields(vhd: VhdFile, fail: Fail): void {
  if (vhd.footer.diskType !== DiskType.Differencing) return;
  if (vhd.header.parentUnicodeName === '') fail('differencing disk without a parent name in its header');
  if (vhd.header.parentUuid === NIL_UUID) fail('differencing disk without a parent uuid in its header');
}

async function readEveryBlock(vhd: VhdFile, fail: Fail): Promise<void> {
  for (const index of vhd.allocatedBlocks()) {
    try {
      await vhd.readBlock(index);
    } catch (error) {
      const reason = reasonOf(error, vhd.path);
      fail(reason.startsWith(`block ${index}`) ? reason : `block ${index}: ${reason}`);
    }
  }
}

async function sumsBeside(path: string): Promise<string | undefined> {
  const sums = `${path}.sums`;
  return access(sums).then(
    () => sums,
    () => undefined,
  );
}

/** Every block read back and compared with its stored checksum; all bad blocks are named. */
async function compareWithSums(vhd: VhdFile, shown: string, sumsPath: string): Promise<void> {
  const shownSums = `${shown}.sums`;
  let reader: SumsReader;
  try {
    reader = await SumsReader.open(sumsPath, shownSums);
  } catch (error) {
    throw new VhdCheckProblem(shownSums, reasonOf(error, `checksum file ${shownSums}`));
  }
  try {
    if (reader.blockSize !== vhd.blockSize) {
      throw new VhdCheckProblem(shownSums, `checksums of ${reader.blockSize}-byte blocks, but ${basename(shown)} has ${vhd.blockSize}-byte blocks`);
    }
    const { bad } = await compareBlocks(vhd, reader.entries()).catch((error: unknown) => {
      throw new VhdCheckProblem(shownSums, reasonOf(error, `checksum file ${shownSums}`));
    });
    if (bad.length > 0) throw new VhdCheckProblem(shown, badBlocksReason(bad, basename(shownSums)), bad);
  } finally {
    await reader.close();
  }
}

function badBlocksReason(bad: BadBlockFinding[], sumsName: string): string {
  const byReason = new Map<string, number[]>();
  for (const b of bad) byReason.set(b.reason, [...(byReason.get(b.reason) ?? []), b.index]);
  const parts = [...byReason].map(([reason, indexes]) => `${indexes.join(', ')} (${reason})`);
  return `${bad.length} bad ${bad.length === 1 ? 'block' : 'blocks'} against ${sumsName}: ${parts.join('; ')}`;
}

function problemOf(decode: () => unknown): string | undefined {
  try {
    decode();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/** Error text without the file's own path in front (the problem line already starts with it). */
function reasonOf(error: unknown, path: string): string {
  const text = errorMessage(error);
  return text.startsWith(`${path}: `) ? text.slice(path.length + 2) : text;
}
