import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { figure } from './bench/lib/stats.js';
import { suiteMarkdown, cell } from './bench/suite/markdown.js';
import { parseSuiteOptions } from './bench/suite/options.js';
import { deriveRatios, pairedRatio } from './bench/suite/ratios.js';
import { END, START, replaceBetweenMarkers } from './bench/suite/published-table.js';
import type { BackupFigures, SuiteResults } from './bench/suite/results.js';
import { ratioChartSvg } from './bench/suite/svg-chart.js';

const MiB = 1024 * 1024;

function backup(wall: number[], added: number[]): BackupFigures {
  return { wallSec: figure(wall), cpuSec: figure(wall.map((w) => w / 2)), bytesRead: figure([4096 * MiB, 4096 * MiB, 4096 * MiB]), bytesAdded: figure(added) };
}

function sample(): Omit<SuiteResults, 'ratios'> {
  return {
    version: 1,
    date: '2026-11-26T15:00:00.000Z',
    durationSec: 1500,
    machine: { cpu: 'Test CPU', cores: 2, memGiB: 24, kernel: '6.1', filesystem: 'ext4', node: 'v20', restic: 'restic 0.14.0', borg: 'borg 1.2.4', loadStart: 0.5, loadEnd: 1.5 },
    options: { diskGiB: 4, runs: 3, sections: ['full', 'incremental'] },
    incremental: [
      { pattern: 'clustered', label: 'clustered 2 MiB runs', writtenBytes: 41 * MiB, extents: figure([656, 656, 656]), tools: { deltachain: backup([1, 2, 4], [40 * MiB, 41 * MiB, 42 * MiB]), restic: backup([10, 10, 10], [30 * MiB, 30 * MiB, 30 * MiB]), borg: backup([20, 20, 20], [35 * MiB, 35 * MiB, 35 * MiB]) } },
      {
        pattern: 'scattered',
        label: 'scattered 4 KiB pages',
        writtenBytes: 41 * MiB,
        extents: figure([9000, 9100, 9200]),
        tools: { deltachain: backup([50, 50, 50], [3000 * MiB, 3000 * MiB, 3000 * MiB]), restic: backup([20, 20, 20], [1600 * MiB, 1700 * MiB, 1800 * MiB]), borg: backup([30, 30, 30], [2300 * MiB, 2300 * MiB, 2300 * MiB]) },
        cbt: { figures: { ...backup([4, 5, 10], [600 * MiB, 650 * MiB, 700 * MiB]), bytesSent: figure([620 * MiB, 640 * MiB, 660 * MiB]) }, extents: figure([10000, 10400, 11200]), readMethods: ['cbt-nbd', 'cbt-nbd', 'vhd-export (cbt-lost)'] },
      },
    ],
    snapshotData: { vhdExport: 4096 * MiB, cbt: 0 },
    full: {
      bytes: 4096 * MiB,
      deltachain: { wallSec: figure([20, 22, 21]), mibPerSec: figure([200, 180, 190]), cpuSec: figure([30, 31, 32]), cpuByProcess: { hostAgent: figure([20, 21, 22]), storageAgent: figure([10, 10, 10]) } },
      rawTcp: { wallSec: figure([5, 5, 5]), mibPerSec: figure([800, 900, 950]), cpuSec: figure([4, 4, 4]) },
    },
    notes: ['a note'],
  };
}

describe('bench suite report', () => {
  it('pairs runs for ratios: run i against run i', () => {
    assert.deepEqual(pairedRatio(figure([10, 10, 10]), figure([1, 2, 4])).runs, [10, 5, 2.5]);
    assert.equal(pairedRatio(figure([10, 10, 10]), figure([1, 2, 4])).median, 5);
  });

  it('derives one ratio per peer and pattern, plus the limit ratios', () => {
    const ratios = deriveRatios(sample());
    const labels = ratios.map((r) => `${r.group}: ${r.label}`);
    assert.ok(labels.includes('Incremental backup time: clustered 2 MiB runs: restic'));
    assert.ok(labels.includes('Incremental repository growth: clustered 2 MiB runs: borg'));
    const full = ratios.find((r) => r.label === 'full backup vs raw TCP copy')!;
    assert.equal(full.limit, true);
    assert.deepEqual(full.figure.runs, [200 / 800, 180 / 900, 190 / 950]);
  });

  it('derives the CBT path\'s ratios run by run: against the peers, the extents its own writes touched, restic', () => {
    const ratios = deriveRatios(sample());
    const of = (label: string) => ratios.find((r) => `${r.group}: ${r.label}` === label);
    assert.equal(of('Incremental backup time, CBT path: clustered 2 MiB runs: restic'), undefined, 'no CBT runs for that pattern');
    assert.deepEqual(of('Incremental backup time, CBT path: scattered 4 KiB pages: borg')!.figure.runs, [30 / 4, 30 / 5, 30 / 10]);
    const extents = of('Incremental bytes added, CBT path: scattered 4 KiB pages: vs the extents touched')!;
    assert.deepEqual(extents.figure.runs, [600 / (10000 / 16), 650 / (10400 / 16), 700 / (11200 / 16)]);
    assert.match(extents.meaning, /target ≤ 1\.1/);
    const restic = of('Incremental bytes added, CBT path: scattered 4 KiB pages: vs restic')!;
    assert.deepEqual(restic.figure.runs, [600 / 1600, 650 / 1700, 700 / 1800]);
    assert.match(restic.meaning, /target ≤ 0\.4/);
  });

  it('writes a markdown table with medians and ranges, and the machine', () => {
    const r = { ...sample(), ratios: deriveRatios(sample()) };
    const md = suiteMarkdown(r);
    assert.match(md, /Machine: 2 × Test CPU, 24 GiB RAM, ext4/);
    assert.match(md, /\| clustered 2 MiB runs \(41 MiB written\) \| Deltachain, VHD export \| 656 \| 2\.00 \(1\.00–4\.00\) \|/);
    assert.match(md, /\| scattered 4 KiB pages \(41 MiB written\) \| Deltachain, CBT \+ NBD \| 10400 \(10000–11200\) \| 5\.00 \(4\.00–10\.00\) \| 2\.50 \(2\.00–5\.00\) \| 4096 \| 640\.0 \(620\.0–660\.0\) \| 650\.0 \(600\.0–700\.0\) \|/);
    assert.match(md, /\| scattered 4 KiB pages \(41 MiB written\) \| restic \| 9100 \(9000–9200\) \| 20\.00 \| 10\.00 \| 4096 \| – \|/);
    assert.match(md, /CBT-path runs that fell back: scattered 4 KiB pages: vhd-export \(cbt-lost\)\./);
    assert.match(md, /4096 MiB with the VHD-export path, 0 MiB with the CBT path/);
    assert.match(md, /\| Deltachain full backup \| 21\.00 \(20\.00–22\.00\) \| 190 \(180–200\) \|/);
    assert.match(md, /- a note/);
    assert.match(md, /CPU by process \(s\): host agent 21\.0 \(20\.0–22\.0\), storage agent 10\.0\./);
    assert.equal(cell(figure([3, 3, 3]), 1), '3.0');
  });

  it('draws an SVG bar per ratio with whiskers, escaping labels', () => {
    const ratios = deriveRatios(sample());
    ratios[0]!.label = 'a <b> & "c"';
    const svg = ratioChartSvg(ratios, 'title & more');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, ratios.length);
    assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;'));
    assert.ok(svg.includes('title &amp; more'));
    assert.ok(!/NaN|Infinity/.test(svg));
  });

  it('replaces only what is between the markers of docs/benchmarks.md', () => {
    const text = `before\n${START}\nold\n${END}\nafter\n`;
    assert.equal(replaceBetweenMarkers(text, 'new table'), `before\n${START}\nnew table\n${END}\nafter\n`);
    assert.throws(() => replaceBetweenMarkers('no markers', 'x'), /markers/);
  });

  it('parses options with clear errors', () => {
    const o = parseSuiteOptions(['--disk-gib', '16', '--only', 'merge,coordinator']);
    assert.ok(o !== 'help');
    assert.equal(o.diskGiB, 16);
    assert.deepEqual(o.sections, ['merge', 'coordinator']);
    assert.throws(() => parseSuiteOptions(['--only', 'nope']), /unknown section "nope"/);
    assert.throws(() => parseSuiteOptions(['--only', 'restore']), /restore needs incremental/);
    assert.throws(() => parseSuiteOptions(['--runs', 'x']), /--runs/);
    assert.equal(parseSuiteOptions(['--help']), 'help');
  });
});
