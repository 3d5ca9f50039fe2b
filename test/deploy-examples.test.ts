// The example configs under deploy/examples/: each passes its process's schema as it is and with
// its secrets file applied as environment overrides, and deploy/examples/README.md — the config
// reference — names every field of every process's schema, so a field added to a schema without
// documentation fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ENV_PREFIX, applyEnvOverrides, parseConfig } from '../shared/config/index.js';
import { SCHEMAS, fieldPaths, type ProcessKind } from './support/deploy-configs.js';

const EXAMPLES = fileURLToPath(new URL('../deploy/examples/', import.meta.url));
const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');

function kindOfExample(file: string, config: Record<string, unknown>): ProcessKind {
  if (file === 'coordinator.json') return 'coordinator';
  if (file === 'lab-pool.json') return 'lab';
  assert.ok(config.role === 'storage' || config.role === 'host', `${file}: role`);
  return config.role;
}

/** KEY=value lines of an env file. */
function envFile(path: string): Record<string, string> {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('example configs', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));

  it('cover every process', () => {
    const kinds = files.map((f) => kindOfExample(f, JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8'))));
    assert.deepEqual([...new Set(kinds)].sort(), ['coordinator', 'host', 'lab', 'storage']);
  });

  for (const file of files) {
    it(`${file} passes its schema, also with its secrets applied`, () => {
      const raw = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Record<string, unknown>;
      const schema = SCHEMAS[kindOfExample(file, raw)];
      parseConfig(schema, raw, file);
      const secretsFile = file.replace(/\.json$/, '.env.example');
      if (!readdirSync(EXAMPLES).includes(secretsFile)) return;
      const env = envFile(join(EXAMPLES, secretsFile));
      assert.ok(Object.keys(env).length > 0 && Object.keys(env).every((k) => k.startsWith(ENV_PREFIX)), `${secretsFile}: only ${ENV_PREFIX} variables`);
      const merged = applyEnvOverrides(raw, env);
      parseConfig(schema, merged, `${file} + ${secretsFile}`);
      // Each variable lands on a field the file already has or the schema knows (no typo goes unseen).
      for (const name of Object.keys(env)) {
        const path = name.slice(ENV_PREFIX.length).split('__').map((s) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())).join('.');
        assert.ok(fieldPaths(schema).includes(path), `${secretsFile}: ${name} sets ${path}, a field of the schema`);
      }
    });
  }

  it('the README names every field of every schema', () => {
    const opaque: Record<ProcessKind, string[]> = { coordinator: [], storage: [], host: [], lab: ['fleet', 'faults'] };
    const missing: string[] = [];
    for (const [kind, schema] of Object.entries(SCHEMAS) as [ProcessKind, (typeof SCHEMAS)[ProcessKind]][]) {
      const paths = fieldPaths(schema, opaque[kind]);
      // Sections (paths with fields under them) are documented through their fields.
      const fields = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}.`) || q.startsWith(`${p}[]`)));
      for (const path of fields) if (!readme.includes(`\`${path}\``)) missing.push(`${kind}: ${path}`);
    }
    assert.deepEqual(missing, [], 'fields missing from deploy/examples/README.md');
  });
});
