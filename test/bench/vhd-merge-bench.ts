// Merge throughput against `cp` of the child's file, side by side in one run: a child with
// `childMiB` of allocated 2 MiB blocks (default 1 GiB) merged into parents of several sizes
// (default 1 and 4 GiB). Every parent has every other block allocated and the child's blocks are the
// first ones of the disk, so half are overwritten in place and half appended whatever the parent's
// size: only the parent's size varies, which is what "flat in the parent's size" asks about.
//
// Each run copies fresh files from templates, `sync`s, then times `cp child copy`; `cp` + `sync`
// of the copy (a merge makes its writes durable too); `cp` + `sync` + `rm child` (a merge also
// removes the child: on this machine's disk, mounted with `discard`, freeing a 1 GiB file takes a
// noticeable fraction of a second); and mergeVhd. Nothing is dropped from the page cache. The
// median of `runs` is kept. Ratio = the tool's time / merge time (≥ 0.9 of cp is the target).
//
// `benchMerge` is called by `npm run bench:vhd` (test/bench/vhd-bench.ts); run alone with
// `node --import tsx test/bench/vhd-merge-bench.ts [--runs N] [--child-mib N] [--parents-gib 1,4]`.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { DiskType } from '../../shared/vhd/format/index.js';
import { mergeVhd } from '../../shared/vhd/merge.js';
import { VhdWriter } from '../../shared/vhd/vhd-writer.js';
import { SeededBytes } from '../support/vhd-raw-image.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BLOCK = 2 * MiB;

export interface MergeBenchOptions {
  /** Allocated data of the child, MiB (a multiple of 2). Default 1024. */
  childMiB?: number;
  /** Virtual sizes of the parents, GiB. Default [1, 4]. */
  parentsGiB?: number[];
  /** Measurements per case; the median is kept. Default 3. */
  runs?: number;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface MergeBenchCase {
  parentGiB: number;
  /** Bytes of the child's file: what cp copies and the merge reads. */
  childFileBytes: number;
  parentFileBytes: number;
  /** Child blocks overwritten in place / appended to the parent. */
  inPlace: number;
  appended: number;
  /** Seconds, one per run. */
  merge: number[];
  cp: number[];
  cpSync: number[];
  cpSyncRm: number[];
}

export interface MergeBenchResults {
  date: string;
  node: string;
  runs: number;
  cases: MergeBenchCase[];
}

export async function benchMerge(options: MergeBenchOptions = {}): Promise<MergeBenchResults> {
  const runs = options.runs ?? 3;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const childBlocks = (options.childMiB ?? 1024) / 2;
  const dir = await mkdtemp(join(tmpdir(), 'deltachain-bench-merge-'));
  const cases: MergeBenchCase[] = [];
  try {
    for (const parentGiB of options.parentsGiB ?? [1, 4]) {
      cases.push(await benchCase(dir, parentGiB, childBlocks, runs, log));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { date: new Date().toISOString(), node: process.version, runs, cases };
}

async function benchCase(dir: string, parentGiB: number, childBlocks: number, runs: number, log: (l: string) => void): Promise<MergeBenchCase> {
  const size = parentGiB * GiB;
  if (childBlocks > size / BLOCK) throw new RangeError(`a ${childBlocks}-block child does not fit a ${parentGiB} GiB disk`);
  const templates = join(dir, `parent-${parentGiB}g`);
  await mkdir(templates);
  const parentBlocks = [...Array(size / BLOCK).keys()].filter((i) => i % 2 === 0);
  const childIndexes = [...Array(childBlocks).keys()];
  log(`merge bench: writing a ${parentGiB} GiB parent (${parentBlocks.length} blocks) and a child of ${childBlocks} blocks`);
  const parentUuid = uuidFor(`parent-${parentGiB}`);
  await writeVhd(join(templates, 'parent.vhd'), size, parentBlocks, parentUuid);
  await writeVhd(join(templates, 'child.vhd'), size, childIndexes, uuidFor(`child-${parentGiB}`), { uuid: parentUuid, name: 'parent.vhd' });
  const childFileBytes = (await stat(join(templates, 'child.vhd'))).size;
  const result: MergeBenchCase = {
    parentGiB,
    childFileBytes,
    parentFileBytes: (await stat(join(templates, 'parent.vhd'))).size,
    inPlace: childIndexes.filter((i) => i % 2 === 0).length,
    appended: childIndexes.filter((i) => i % 2 === 1).length,
    merge: [],
    cp: [],
    cpSync: [],
    cpSyncRm: [],
  };
  for (let r = 0; r < runs; r++) {
    const work = join(dir, `run-${parentGiB}g-${r}`);
    await mkdir(work);
    await copyFile(join(templates, 'parent.vhd'), join(work, 'parent.vhd'));
    await copyFile(join(templates, 'child.vhd'), join(work, 'child.vhd'));
    await run('sync', []);
    const copy = join(dir, 'copy.vhd');
    result.cp.push(await timed(() => run('cp', [join(work, 'child.vhd'), copy])));
    await rm(copy);
    result.cpSync.push(await timed(() => run('sh', ['-c', 'cp "$1" "$2" && sync "$2"', 'cp', join(work, 'child.vhd'), copy])));
    await rm(copy);
    const victim = join(dir, 'victim.vhd');
    await copyFile(join(work, 'child.vhd'), victim);
    await run('sync', []);
    result.cpSyncRm.push(await timed(() => run('sh', ['-c', 'cp "$1" "$2" && sync "$2" && rm "$1" && sync', 'cp', victim, copy])));
    await rm(copy);
    await run('sync', []);
    result.merge.push(await timed(() => mergeVhd(join(work, 'child.vhd'))));
    const speed = (s: number[]) => (childFileBytes / MiB / s.at(-1)!).toFixed(0);
    log(
      `  ${parentGiB} GiB parent, run ${r + 1}: merge ${speed(result.merge)} MiB/s, cp ${speed(result.cp)}, ` +
        `cp+sync ${speed(result.cpSync)}, cp+sync+rm ${speed(result.cpSyncRm)}`,
    );
    await rm(work, { recursive: true });
  }
  await rm(templates, { recursive: true });
  return result;
}

/** A VHD of `size` bytes with `blocks` allocated: random-looking data, no two blocks alike. */
async function writeVhd(path: string, size: number, blocks: number[], uuid: string, parent?: { uuid: string; name: string }): Promise<void> {
  const random = new SeededBytes(path);
  const pool = random.bytes(64 * MiB);
  const writer = await VhdWriter.create({
    path,
    diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
    currentSize: size,
    uuid,
    parent: parent && { uuid: parent.uuid, timestamp: 0, relativeName: `./${parent.name}` },
  });
  for (const index of blocks) {
    const start = random.int((pool.length - BLOCK) / 512) * 512;
    const data = Buffer.from(pool.subarray(start, start + BLOCK));
    data.writeUInt32BE(index, 0);
    await writer.writeBlock(index, data);
  }
  await writer.finish();
}

function uuidFor(text: string): string {
  const hex = new SeededBytes(`uuid:${text}`).bytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** MiB/s of the child's file for the median of `seconds`. */
export function throughput(c: MergeBenchCase, seconds: number[]): number {
  return c.childFileBytes / MiB / median(seconds);
}

/** A markdown table: one row per parent size, merge vs cp and cp+sync, and the flatness. */
export function formatMergeBench(results: MergeBenchResults): string {
  const lines = [
    `merge bench (median of ${results.runs}, ${results.node}): child of ${results.cases[0] ? (results.cases[0].childFileBytes / MiB).toFixed(0) : 0} MiB`,
    '',
    '| parent | in place / appended | merge MiB/s | cp MiB/s | ratio vs cp | cp+sync MiB/s | ratio | cp+sync+rm MiB/s | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of results.cases) {
    const merge = throughput(c, c.merge);
    const cells = [c.cp, c.cpSync, c.cpSyncRm].map((s) => {
      const tool = throughput(c, s);
      return `${tool.toFixed(0)} | ${(merge / tool).toFixed(2)}`;
    });
    lines.push(`| ${c.parentGiB} GiB (${(c.parentFileBytes / MiB).toFixed(0)} MiB file) | ${c.inPlace} / ${c.appended} | ${merge.toFixed(0)} | ${cells.join(' | ')} |`);
  }
  if (results.cases.length > 1) {
    const speeds = results.cases.map((c) => throughput(c, c.merge));
    const ratios = results.cases.map((c) => throughput(c, c.merge) / throughput(c, c.cp));
    lines.push(
      '',
      `flatness: merge throughput into the largest parent is ${(speeds.at(-1)! / speeds[0]!).toFixed(2)} × that into the smallest ` +
        `(ratio vs cp ${ratios[0]!.toFixed(2)} → ${ratios.at(-1)!.toFixed(2)})`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '3' }, 'child-mib': { type: 'string', default: '1024' }, 'parents-gib': { type: 'string', default: '1,4' } },
  });
  const results = await benchMerge({
    runs: Number(values.runs),
    childMiB: Number(values['child-mib']),
    parentsGiB: values['parents-gib']!.split(',').map(Number),
  });
  process.stdout.write(`${formatMergeBench(results)}\n`);
}
