import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger.js';

function capture(pretty: boolean) {
  const sink = new PassThrough();
  const chunks: string[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c.toString()));
  const logger = createLogger({ pretty, destination: sink, level: 'info' });
  return { logger, text: () => chunks.join('') };
}

describe('logger', () => {
  it('writes JSON lines with fields, and children carry their bindings', () => {
    const { logger, text } = capture(false);
    logger.child({ component: 'merge' }).info({ blocks: 3 }, 'merge finished');
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    assert.equal(line.msg, 'merge finished');
    assert.equal(line.component, 'merge');
    assert.equal(line.blocks, 3);
  });

  it('redacts secrets even when a caller passes them', () => {
    const { logger, text } = capture(false);
    logger.info({ auth: { user: 'root', password: 'hunter2' } }, 'login');
    assert.doesNotMatch(text(), /hunter2/);
    assert.match(text(), /\[redacted\]/);
  });

  it('renders human-readable lines when pretty', async () => {
    const { logger, text } = capture(true);
    logger.info({ vm: 'abc' }, 'backup started');
    await new Promise((r) => setTimeout(r, 20));
    assert.match(text(), /backup started/);
    assert.throws(() => JSON.parse(text().trim()));
  });
});
