// The structure the code keeps (docs/architecture.md): read from the source itself, so a change that
// breaks it fails here rather than in a reviewer's head.
//   * no import loop between top folders, nor between the folders of coordinator/ and agent/host/;
//   * the product (bin/, coordinator/, agent/, shared/) imports nothing from the lab;
//   * no block of six or more lines written twice in the hand-written tree (generated protobuf code
//     and tests left out).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_ROOTS = ['bin', 'coordinator', 'agent', 'shared', 'lab', 'deploy'];
const PRODUCT = ['bin', 'coordinator', 'agent', 'shared'];
const SKIPPED_FOLDERS = new Set(['node_modules', 'gen', '.lab', 'tmp', 'dist']);

function isTest(path: string): boolean {
  return /\.test\.ts$/.test(path) || path.includes('/testing/');
}

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(ROOT, dir));
    } catch {
      return;
    }
    for (const name of names) {
      if (SKIPPED_FOLDERS.has(name)) continue;
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.d.mts') && !isTest(path)) out.push(path);
    }
  };
  for (const root of SOURCE_ROOTS) walk(root);
  return out.sort();
}

/** Relative imports (static, `export … from` and `import()`), resolved to repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  const pattern = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;
  for (const match of text.matchAll(pattern)) {
    const target = match[1] ?? match[2]!;
    found.push(relative(ROOT, resolve(ROOT, dirname(file), target)).replace(/\.js$/, '.ts'));
  }
  return found;
}

/** The folder a file counts in: its top folder, or for coordinator/ and agent/host/ the folder below. */
function unitOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'coordinator' && parts.length > 2) return `coordinator/${parts[1]}`;
  if (parts[0] === 'agent' && parts[1] === 'host' && parts.length > 3) return `agent/host/${parts[2]}`;
  return parts[0]!;
}

function topOf(path: string): string {
  return path.split('/')[0]!;
}

/** Cycles of a directed graph (Tarjan's strongly connected components of more than one node). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of edges.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Every import that ties one unit to another, with the files that make it, for the message. */
function unitGraph(files: string[], unit: (path: string) => string): { edges: Map<string, Set<string>>; why: Map<string, string> } {
  const edges = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const file of files) {
    for (const target of importsOf(file)) {
      const from = unit(file);
      const to = unit(target);
      if (from === to || !SOURCE_ROOTS.includes(topOf(target))) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
      if (!why.has(`${from} -> ${to}`)) why.set(`${from} -> ${to}`, `${file} imports ${target}`);
    }
  }
  return { edges, why };
}

function explain(loop: string[], edges: Map<string, Set<string>>, why: Map<string, string>): string {
  const lines = [];
  for (const from of loop) for (const to of edges.get(from) ?? []) if (loop.includes(to)) lines.push(`  ${from} -> ${to}: ${why.get(`${from} -> ${to}`)}`);
  return `a loop between ${loop.join(', ')}:\n${lines.join('\n')}`;
}

/**
 * Lines as compared: white space folded; blank, comment-only and punctuation-only lines left out,
 * and import and re-export statements (also those over several lines): a list of names is not code.
 */
function meaningfulLines(file: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let inImport = false;
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const text = raw.trim().replace(/\s+/g, ' ');
      if (inImport) {
        if (/^} from ['"]/.test(text) || /^\}\)?;?$/.test(text)) inImport = false;
        return;
      }
      if (/^(import|export)( type)? \{[^}]*$/.test(text)) {
        inImport = true;
        return;
      }
      if (text === '' || /^(\/\/|\/\*|\*|#!)/.test(text) || /^[\s{}()[\];,.:]*$/.test(text)) return;
      if (/^(import|export) .* from ['"]/.test(text) || /^import ['"]/.test(text)) return;
      out.push({ line: i + 1, text });
    });
  return out;
}

const WINDOW = 6;

describe('structure', () => {
  const files = sourceFiles();

  it('reads the source tree', () => {
    assert.ok(files.length > 200, `found only ${files.length} source files under ${SOURCE_ROOTS.join(', ')}`);
  });

  it('has no import loop between top folders', () => {
    const { edges, why } = unitGraph(files, topOf);
    const loops = cycles(edges);
    assert.deepEqual(loops.map((l) => explain(l, edges, why)), []);
  });

  it('has no import loop between the folders of coordinator/ and of agent/host/', () => {
    const { edges, why } = unitGraph(files, unitOf);
    const loops = cycles(edges).filter((l) => l.some((u) => u.startsWith('coordinator/') || u.startsWith('agent/host/')));
    assert.deepEqual(loops.map((l) => explain(l, edges, why)), []);
  });

  it('keeps the lab out of the product', () => {
    const offending = files
      .filter((f) => PRODUCT.includes(topOf(f)))
      .flatMap((f) => importsOf(f).filter((t) => topOf(t) === 'lab' || t.startsWith('deploy/')).map((t) => `${f} imports ${t}`));
    assert.deepEqual(offending, []);
  });

  it(`has no block of ${WINDOW} or more lines written twice`, () => {
    const seen = new Map<string, { file: string; line: number }>();
    const repeats = new Map<string, string>();
    for (const file of files) {
      const lines = meaningfulLines(file);
      let lastEnd = -1;
      for (let i = 0; i + WINDOW <= lines.length; i++) {
        const key = lines.slice(i, i + WINDOW).map((l) => l.text).join('\n');
        const first = seen.get(key);
        const here = { file, line: lines[i]!.line };
        if (first === undefined) {
          seen.set(key, here);
          continue;
        }
        if (first.file === file && lines.findIndex((l) => l.line === first.line) + WINDOW > i) continue; // overlaps itself
        if (i < lastEnd) continue; // the same run as the pair just reported
        lastEnd = i + WINDOW;
        const pair = `${first.file}:${first.line} ~ ${file}:${here.line}`;
        if (!repeats.has(pair)) repeats.set(pair, key.split('\n')[0]!);
      }
    }
    assert.deepEqual(
      [...repeats].map(([pair, start]) => `${pair} (starting "${start.slice(0, 60)}")`),
      [],
      'the same lines stand in two places: make one piece of code serve both',
    );
  });
});
