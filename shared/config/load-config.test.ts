import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { applyEnvOverrides, loadConfigFile, parseConfig } from './load-config.js';
import { tlsSchema } from './schema.js';

const schema = z
  .object({
    storage: z.object({ port: z.number().int().min(1).max(65535), root: z.string().min(1) }).strict(),
    tls: tlsSchema.optional(),
  })
  .strict();

describe('config loading', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the bad field and the file', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ storage: { port: 'x', root: '/r' } }));
    await assert.rejects(loadConfigFile(schema, path), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /bad\.json: storage\.port: /);
      return true;
    });
  });

  it('rejects unknown fields, so typos do not pass silently', () => {
    assert.throws(() => parseConfig(schema, { storage: { port: 1, root: '/r', prot: 2 } }, 'x.json'), /storage: .*prot/);
  });

  it('returns a frozen object', async () => {
    const path = join(dir, 'good.json');
    await writeFile(path, JSON.stringify({ storage: { port: 7000, root: '/r' } }));
    const config = await loadConfigFile(schema, path);
    assert.equal(config.storage.port, 7000);
    assert.ok(Object.isFrozen(config.storage));
  });

  it('applies DELTACHAIN__ environment overrides', async () => {
    const path = join(dir, 'env.json');
    await writeFile(path, JSON.stringify({ storage: { port: 7000, root: '/r' } }));
    const config = await loadConfigFile(schema, path, { DELTACHAIN__STORAGE__PORT: '7100', OTHER: 'x' });
    assert.equal(config.storage.port, 7100);
    assert.deepEqual(applyEnvOverrides({}, { DELTACHAIN__TLS__INSECURE: 'true' }), { tls: { insecure: true } });
  });

  it('says how to fix missing TLS material', () => {
    assert.throws(
      () => parseConfig(schema, { storage: { port: 1, root: '/r' }, tls: {} }, 'x.json'),
      /tls: give cert and key .* insecure: true/,
    );
  });

  it('says when the file is missing or not JSON', async () => {
    await assert.rejects(loadConfigFile(schema, join(dir, 'nope.json')), /cannot read config file/);
    const path = join(dir, 'broken.json');
    await writeFile(path, '{"storage":');
    await assert.rejects(loadConfigFile(schema, path), /is not valid JSON/);
  });
});
