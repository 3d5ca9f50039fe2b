// The ratios as an SVG bar chart: one horizontal bar per ratio at its median, a whisker from min to
// max, a log scale (ratios span 0.1 to 100) with a line at 1 — right of it Deltachain is ahead.
// Plain SVG text, no dependency: it renders on GitHub and in any browser.
import type { Ratio } from './results.js';

const WIDTH = 900;
const LABEL_W = 330;
const BAR_H = 18;
const GAP = 6;
const GROUP_GAP = 26;
const TOP = 62;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function ratioChartSvg(ratios: readonly Ratio[], title: string): string {
  const values = ratios.flatMap((r) => [r.figure.min, r.figure.max, r.figure.median]).filter((v) => v > 0);
  const lo = Math.min(0.1, ...values.map((v) => 10 ** Math.floor(Math.log10(v))));
  const hi = Math.max(10, ...values.map((v) => 10 ** Math.ceil(Math.log10(v))));
  const plotW = WIDTH - LABEL_W - 40;
  const x = (v: number): number => LABEL_W + (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * plotW;
  const parts: string[] = [];
  let y = TOP;
  let group = '';
  for (const r of ratios) {
    if (r.group !== group) {
      group = r.group;
      y += GROUP_GAP;
      parts.push(`<text x="8" y="${y - 8}" font-weight="bold">${escape(group)}</text>`);
    }
    const m = r.figure.median;
    const ahead = r.limit ? m >= 0.9 : m >= 1;
    const colour = ahead ? '#2e7d32' : '#c62828';
    parts.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" text-anchor="end">${escape(r.label)}</text>`);
    parts.push(`<rect x="${x(lo)}" y="${y}" width="${Math.max(1, x(m) - x(lo))}" height="${BAR_H}" fill="${colour}" fill-opacity="0.75"><title>${escape(`${r.meaning}: median ${m.toFixed(3)}, min ${r.figure.min.toFixed(3)}, max ${r.figure.max.toFixed(3)}`)}</title></rect>`);
    const wy = y + BAR_H / 2;
    parts.push(`<line x1="${x(r.figure.min)}" y1="${wy}" x2="${x(r.figure.max)}" y2="${wy}" stroke="#000" stroke-width="1.5"/>`);
    for (const v of [r.figure.min, r.figure.max]) parts.push(`<line x1="${x(v)}" y1="${wy - 5}" x2="${x(v)}" y2="${wy + 5}" stroke="#000" stroke-width="1.5"/>`);
    parts.push(`<text x="${Math.min(x(Math.max(m, r.figure.max)) + 6, WIDTH - 4)}" y="${y + BAR_H - 5}" font-size="11">${formatRatio(m)}</text>`);
    y += BAR_H + GAP;
  }
  const bottom = y + 10;
  const axis: string[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    for (const k of [1, 2, 5]) {
      const t = v * k;
      if (t > hi * 1.0001) break;
      const major = k === 1;
      axis.push(`<line x1="${x(t)}" y1="${TOP}" x2="${x(t)}" y2="${bottom}" stroke="${t === 1 ? '#000' : '#ccc'}" stroke-width="${t === 1 ? 1.5 : 0.7}"${major ? '' : ' stroke-dasharray="2,3"'}/>`);
      axis.push(`<text x="${x(t)}" y="${bottom + 16}" text-anchor="middle" font-size="11">${formatRatio(t)}</text>`);
    }
  }
  const height = bottom + 44;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="8" y="36" font-size="11">Bars: median ratio (log scale); whiskers: min–max over paired runs. Right of 1 (green): Deltachain ahead.</text>`,
    `<text x="8" y="50" font-size="11">"Against the limit" bars are Deltachain's share of a raw copy of the same bytes (green from 0.9).</text>`,
    ...axis,
    ...parts,
    `<text x="${LABEL_W}" y="${height - 8}" font-size="11">ratio</text>`,
    '</svg>',
    '',
  ].join('\n');
}

export function formatRatio(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return String(Number(v.toPrecision(2)));
}
