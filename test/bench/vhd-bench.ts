// `npm run bench:vhd`: the VHD module's two hot paths against the tools an operator compares
// them with, side by side in one run:
//   merge  — mergeVhd of a 1 GiB child (512 blocks of 2 MiB) into a 1 GiB and a 4 GiB parent,
//            against `cp` of the child's bytes (+ fsync of the copy: a merge makes its writes durable);
//   parse  — parseVhdStream(fs.createReadStream(file)) draining every block, against `cat file`,
//            with 64 KiB reads (Node's default; what an HTTP export delivers) and 2 MiB reads.
// Throughput is the child's (or parsed file's) bytes over wall time; a ratio ≥ 0.9 of cp, flat
// across parent sizes, is the target. Files are generated quickly (only allocated blocks are
// written; data drawn from a 64 MiB random pool, each block stamped so none repeats) in a
// mkdtemp folder removed at the end. Each measurement runs `--runs` times (default 3) on a warm
// page cache and the median is kept. Prints a markdown table and writes bench-results/vhd.json.
//
// Options: --runs N, --child-mib N (default 1024), --parents-gib 1,4, --keep (leave the files).
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { DiskType } from '../../shared/vhd/format/index.js';
import { mergeVhd } from '../../shared/vhd/merge.js';
import { humanSize } from '../../shared/vhd/tools/human-size.js';
import { parseVhdStream } from '../../shared/vhd/stream-parser.js';
import { VhdWriter } from '../../shared/vhd/vhd-writer.js';
import { SeededBytes } from '../support/vhd-raw-image.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BLOCK = 2 * MiB;
/** Read sizes of the parse bench: Node's default (about what an HTTP body delivers) and whole blocks. */
const READ_SIZES = [64 * 1024, 2 * MiB];

interface Row {
  case: string;
  bytes: number;
  oursSeconds: number;
  toolSeconds: number;
  tool: string;
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'child-mib': { type: 'string', default: '1024' },
    'parents-gib': { type: 'string', default: '1,4' },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const childBlocks = Number(values['child-mib']) / 2;
const parentSizes = values['parents-gib']!.split(',').map((g) => Number(g) * GiB);

class BlockSource {
  readonly #pool: Buffer;
  readonly #random: SeededBytes;
  constructor(seed: string) {
    this.#random = new SeededBytes(seed);
    this.#pool = this.#random.bytes(64 * MiB);
  }
  /** A block of random-looking bytes, unique per call (stamped with a counter). */
  next(stamp: number): Buffer {
    const start = this.#random.int((this.#pool.length - BLOCK) / 512) * 512;
    const block = Buffer.from(this.#pool.subarray(start, start + BLOCK));
    block.writeDoubleBE(stamp, 0);
    return block;
  }
}

/** A VHD of `size` bytes with the given blocks allocated, random data. */
async function writeVhd(path: string, size: number, blocks: number[], parent?: { uuid: string; name: string }, seed = path): Promise<void> {
  const source = new BlockSource(seed);
  const writer = await VhdWriter.create({
    path,
    diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
    currentSize: size,
    uuid: uuidFor(path),
    parent: parent && { uuid: parent.uuid, timestamp: 0, relativeName: `./${parent.name}` },
  });
  let stamp = 0;
  for (const index of blocks) await writer.writeBlock(index, source.next(stamp++));
  await writer.finish();
}

function uuidFor(text: string): string {
  const hex = new SeededBytes(`uuid:${text}`).bytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Every other block of the parent allocated; the child's blocks spread over the whole disk. */
function layout(parentSize: number): { parent: number[]; child: number[] } {
  const count = parentSize / BLOCK;
  const parent = [...Array(count).keys()].filter((i) => i % 2 === 0);
  const stride = count / childBlocks;
  const child = [...Array(childBlocks).keys()].map((k) => Math.floor(k * stride));
  return { parent, child };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function parseAll(path: string, highWaterMark: number): Promise<number> {
  const parsed = await parseVhdStream(createReadStream(path, { highWaterMark }));
  let blocks = 0;
  for await (const _ of parsed.blocks()) blocks++;
  return blocks;
}

async function benchCase(dir: string, parentSize: number, rows: Row[]): Promise<void> {
  const label = `${humanSize(parentSize)} parent`;
  const { parent, child } = layout(parentSize);
  const templates = join(dir, `t-${parentSize / GiB}`);
  await mkdir(templates);
  const parentTemplate = join(templates, 'parent.vhd');
  const childTemplate = join(templates, 'child.vhd');
  log(`generating ${label} (${parent.length} blocks) and a child of ${child.length} blocks`);
  await writeVhd(parentTemplate, parentSize, parent);
  await writeVhd(childTemplate, parentSize, child, { uuid: uuidFor(parentTemplate), name: 'parent.vhd' });
  const childBytes = (await stat(childTemplate)).size;

  const merges: number[] = [];
  const copies: number[] = [];
  for (let r = 0; r < runs; r++) {
    const work = join(dir, `w-${parentSize / GiB}-${r}`);
    await mkdir(work);
    await copyFile(parentTemplate, join(work, 'parent.vhd'));
    await copyFile(childTemplate, join(work, 'child.vhd'));
    await run('sync', []);
    const copy = join(dir, `copy-${r}.vhd`);
    copies.push(await timed(() => run('sh', ['-c', 'cp "$1" "$2" && sync "$2"', 'cp', join(work, 'child.vhd'), copy])));
    merges.push(await timed(() => mergeVhd(join(work, 'child.vhd'))));
    log(`  run ${r + 1}: merge ${mbps(childBytes, merges.at(-1)!)} MiB/s, cp ${mbps(childBytes, copies.at(-1)!)} MiB/s`);
    await rm(work, { recursive: true });
    await rm(copy);
  }
  const childLabel = `${humanSize(child.length * BLOCK)} child`;
  rows.push({ case: `merge ${childLabel} into ${label}`, bytes: childBytes, oursSeconds: median(merges), toolSeconds: median(copies), tool: 'cp' });

  const files: [string, string][] = [[label, parentTemplate]];
  if (rows.length === 1) files.unshift([childLabel, childTemplate]);
  for (const [what, file] of files) {
    const bytes = (await stat(file)).size;
    for (const chunk of READ_SIZES) {
      const parses: number[] = [];
      const cats: number[] = [];
      for (let r = 0; r < runs; r++) {
        cats.push(await timed(() => run('sh', ['-c', 'cat "$1" > /dev/null', 'cat', file])));
        parses.push(await timed(() => parseAll(file, chunk)));
      }
      const reads = chunk >= MiB ? `${chunk / MiB} MiB` : `${chunk / 1024} KiB`;
      rows.push({ case: `parse ${what} (${reads} reads)`, bytes, oursSeconds: median(parses), toolSeconds: median(cats), tool: 'cat' });
    }
  }
  if (!values.keep) await rm(templates, { recursive: true });
}

function mbps(bytes: number, seconds: number): string {
  return (bytes / MiB / seconds).toFixed(0);
}

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function table(rows: Row[]): string {
  const lines = ['| case | file | ours MiB/s | tool | tool MiB/s | ratio |', '|---|---:|---:|---|---:|---:|'];
  for (const r of rows) {
    const ratio = r.toolSeconds / r.oursSeconds;
    lines.push(`| ${r.case} | ${(r.bytes / MiB).toFixed(0)} MiB | ${mbps(r.bytes, r.oursSeconds)} | \`${r.tool}\` | ${mbps(r.bytes, r.toolSeconds)} | ${ratio.toFixed(2)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'deltachain-bench-vhd-'));
  const rows: Row[] = [];
  try {
    for (const size of parentSizes) await benchCase(dir, size, rows);
  } finally {
    if (!values.keep) await rm(dir, { recursive: true, force: true });
    else log(`files kept in ${dir}`);
  }
  process.stdout.write(`${table(rows)}\n`);
  const results = join(process.cwd(), 'bench-results');
  await mkdir(results, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    runs,
    rows: rows.map((r) => ({
      ...r,
      oursMiBps: r.bytes / MiB / r.oursSeconds,
      toolMiBps: r.bytes / MiB / r.toolSeconds,
      ratio: r.toolSeconds / r.oursSeconds,
    })),
  };
  await writeFile(join(results, 'vhd.json'), `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${join(results, 'vhd.json')}`);
}

await main();
