// The committed generated code (shared/proto/gen) must be what `npm run proto` produces from
// proto/ today: regenerate into a temporary folder with the same buf binary and template, and
// compare file by file. Fails with the list of stale, missing and extra files.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const generated = 'shared/proto/gen';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

test('committed proto code matches a fresh `npm run proto`', async () => {
  const out = await mkdtemp(join(tmpdir(), 'deltachain-proto-'));
  try {
    await run(join(root, 'node_modules/.bin/buf'), ['generate', 'proto', '--template', 'proto/buf.gen.yaml', '-o', out], {
      cwd: root,
    });
    const fresh = join(out, generated);
    const committed = join(root, generated);
    const [want, have] = await Promise.all([listFiles(fresh), listFiles(committed)]);
    const problems: string[] = [];
    for (const file of want) {
      if (!have.includes(file)) problems.push(`missing: ${file}`);
      else if (!(await readFile(join(fresh, file))).equals(await readFile(join(committed, file)))) problems.push(`stale: ${file}`);
    }
    for (const file of have) if (!want.includes(file)) problems.push(`extra: ${file}`);
    assert.deepEqual(problems, [], `shared/proto/gen is out of date; run \`npm run proto\` and commit:\n${problems.join('\n')}`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
