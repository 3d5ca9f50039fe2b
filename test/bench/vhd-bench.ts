// `npm run bench:vhd`: the VHD module's two hot paths against the tools an operator compares
// them with, side by side in one run:
//   merge  — mergeVhd of a 1 GiB child (512 blocks of 2 MiB) into a 1 GiB and a 4 GiB parent,
//            against `cp` of the child's bytes (+ fsync of the copy: a merge makes its writes durable);
//   parse  — parseVhdStream draining every block of a file, against `cat file`, in each way of
//            vhd-parse-cases.ts: fresh or borrowed block buffers, fs.createReadStream with 64 KiB
//            or 2 MiB reads or recycled 4 MiB reads, and createReadStream alone (no parser).
// Throughput is the child's (or parsed file's) bytes over wall time; a ratio ≥ 0.9 of cp, flat
// across parent sizes, is the target. Files are generated quickly (only allocated blocks are
// written; data drawn from a 64 MiB random pool, each block stamped so none repeats) in a
// mkdtemp folder removed at the end. Each measurement runs `--runs` times (default 3) on a warm
// page cache and the median is kept. Parse rows also compare CPU time (user + system, every
// thread; cat's from bash's `time`), which the load of a shared machine hardly moves.
// Prints a markdown table and writes bench-results/vhd.json.
//
// Options: --runs N, --child-mib N (default 1024), --parents-gib 1,4, --keep (leave the files),
// --parse-only (skip the merges: the parse rows alone).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { DiskType } from '../../shared/vhd/format/index.js';
import { mergeVhd } from '../../shared/vhd/merge.js';
import { humanSize } from '../../shared/human-units.js';
import { VhdWriter } from '../../shared/vhd/vhd-writer.js';
import { SeededBytes } from '../support/vhd-raw-image.js';
import { PARSE_CASES } from './vhd-parse-cases.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BLOCK = 2 * MiB;

interface Row {
  case: string;
  bytes: number;
  oursSeconds: number;
  toolSeconds: number;
  tool: string;
  /** CPU seconds (user + system, every thread), parse rows only: the machine's load hardly moves them. */
  oursCpuSeconds?: number;
  toolCpuSeconds?: number;
}

/** One measurement: wall-clock and CPU seconds. */
interface Sample {
  wall: number;
  cpu: number;
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'child-mib': { type: 'string', default: '1024' },
    'parents-gib': { type: 'string', default: '1,4' },
    keep: { type: 'boolean', default: false },
    'parse-only': { type: 'boolean', default: false },
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

async function benchCase(dir: string, parentSize: number, rows: Row[], first: boolean): Promise<void> {
  const label = `${humanSize(parentSize)} parent`;
  const { parent, child } = layout(parentSize);
  const templates = join(dir, `t-${parentSize / GiB}`);
  await mkdir(templates);
  const parentTemplate = join(templates, 'parent.vhd');
  const childTemplate = join(templates, 'child.vhd');
  log(`generating ${label} (${parent.length} blocks) and a child of ${child.length} blocks`);
  await writeVhd(parentTemplate, parentSize, parent);
  await writeVhd(childTemplate, parentSize, child, { uuid: uuidFor(parentTemplate), name: 'parent.vhd' });
  const childLabel = `${humanSize(child.length * BLOCK)} child`;
  if (!values['parse-only']) rows.push(await benchMerge(dir, { parentTemplate, childTemplate, parentSize, label: `${childLabel} into ${label}` }));

  const files: [string, string][] = [[label, parentTemplate]];
  if (first) files.unshift([childLabel, childTemplate]);
  for (const [what, file] of files) rows.push(...(await benchParse(what, file)));
  if (!values.keep) await rm(templates, { recursive: true });
}

async function benchMerge(dir: string, c: { parentTemplate: string; childTemplate: string; parentSize: number; label: string }): Promise<Row> {
  const childBytes = (await stat(c.childTemplate)).size;
  const merges: number[] = [];
  const copies: number[] = [];
  for (let r = 0; r < runs; r++) {
    const work = join(dir, `w-${c.parentSize / GiB}-${r}`);
    await mkdir(work);
    await copyFile(c.parentTemplate, join(work, 'parent.vhd'));
    await copyFile(c.childTemplate, join(work, 'child.vhd'));
    await run('sync', []);
    const copy = join(dir, `copy-${r}.vhd`);
    copies.push(await timed(() => run('sh', ['-c', 'cp "$1" "$2" && sync "$2"', 'cp', join(work, 'child.vhd'), copy])));
    merges.push(await timed(() => mergeVhd(join(work, 'child.vhd'))));
    log(`  run ${r + 1}: merge ${mbps(childBytes, merges.at(-1)!)} MiB/s, cp ${mbps(childBytes, copies.at(-1)!)} MiB/s`);
    await rm(work, { recursive: true });
    await rm(copy);
  }
  return { case: `merge ${c.label}`, bytes: childBytes, oursSeconds: median(merges), toolSeconds: median(copies), tool: 'cp' };
}

/** Every parse case against `cat`, run after run side by side (the machine's load drifts). */
async function benchParse(what: string, file: string): Promise<Row[]> {
  const bytes = (await stat(file)).size;
  const rows: Row[] = [];
  for (const parse of PARSE_CASES) {
    const parses: Sample[] = [];
    const cats: Sample[] = [];
    for (let r = 0; r < runs; r++) {
      cats.push(await catSample(file));
      parses.push(await ourSample(() => parse.run(file)));
    }
    const row: Row = {
      case: `parse ${what} (${parse.label})`,
      bytes,
      tool: 'cat',
      oursSeconds: median(parses.map((p) => p.wall)),
      toolSeconds: median(cats.map((c) => c.wall)),
      oursCpuSeconds: median(parses.map((p) => p.cpu)),
      toolCpuSeconds: median(cats.map((c) => c.cpu)),
    };
    log(`  ${row.case}: ${mbps(bytes, row.oursSeconds)} MiB/s, cat ${mbps(bytes, row.toolSeconds)} MiB/s; CPU ${row.oursCpuSeconds!.toFixed(2)} s, cat ${row.toolCpuSeconds!.toFixed(2)} s`);
    rows.push(row);
  }
  return rows;
}

/** `cat file > /dev/null` timed by bash (no process start-up of ours counted), CPU from its rusage. */
async function catSample(file: string): Promise<Sample> {
  const { stderr } = await run('bash', ['-c', 'TIMEFORMAT="%3R %3U %3S"; time cat "$1" > /dev/null', 'cat', file]);
  const [wall, user, system] = stderr.trim().split(/\s+/).map(Number) as [number, number, number];
  return { wall, cpu: user + system };
}

async function ourSample(work: () => Promise<unknown>): Promise<Sample> {
  const before = process.cpuUsage();
  const wall = await timed(work);
  const cpu = process.cpuUsage(before);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

function mbps(bytes: number, seconds: number): string {
  return (bytes / MiB / seconds).toFixed(0);
}

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function table(rows: Row[]): string {
  const lines = ['| case | file | ours MiB/s | tool | tool MiB/s | ratio | CPU ratio |', '|---|---:|---:|---|---:|---:|---:|'];
  for (const r of rows) {
    const ratio = r.toolSeconds / r.oursSeconds;
    const cpu = cpuRatio(r)?.toFixed(2) ?? '–';
    lines.push(`| ${r.case} | ${(r.bytes / MiB).toFixed(0)} MiB | ${mbps(r.bytes, r.oursSeconds)} | \`${r.tool}\` | ${mbps(r.bytes, r.toolSeconds)} | ${ratio.toFixed(2)} | ${cpu} |`);
  }
  return lines.join('\n');
}

/** The tool's CPU time over ours (1 = as cheap as the tool), when both were measured. */
function cpuRatio(r: Row): number | undefined {
  return r.toolCpuSeconds !== undefined && r.oursCpuSeconds ? r.toolCpuSeconds / r.oursCpuSeconds : undefined;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'deltachain-bench-vhd-'));
  const rows: Row[] = [];
  try {
    for (const [k, size] of parentSizes.entries()) await benchCase(dir, size, rows, k === 0);
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
      cpuRatio: cpuRatio(r),
    })),
  };
  await writeFile(join(results, 'vhd.json'), `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${join(results, 'vhd.json')}`);
}

await main();
