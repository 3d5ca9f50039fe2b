import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { classifyXapiFailure } from './classify-xapi-error.js';
import { guardExportBody, parseEmbeddedHttpError } from './http-in-body.js';
import { XapiCallError } from './xapi-call-error.js';

describe('classifyXapiFailure', () => {
  const cases: Array<[string | undefined, 'transient' | 'permanent']> = [
    ['OTHER_OPERATION_IN_PROGRESS', 'transient'],
    ['TOO_MANY_PENDING_TASKS', 'transient'],
    ['SR_BACKEND_FAILURE_46', 'transient'],
    ['VDI_IN_USE', 'transient'],
    ['ECONNRESET', 'transient'],
    ['ERR_ASSERTION', 'transient'],
    ['UND_ERR_SOCKET', 'transient'],
    ['HTTP_503', 'transient'],
    ['SESSION_INVALID', 'permanent'],
    ['SESSION_AUTHENTICATION_FAILED', 'permanent'],
    ['HANDLE_INVALID', 'permanent'],
    ['SR_BACKEND_FAILURE_82', 'permanent'],
    ['SR_BACKEND_FAILURE_999', 'permanent'],
    ['VDI_IO_ERROR', 'permanent'],
    ['HTTP_401', 'permanent'],
    ['HTTP_404', 'permanent'],
    ['SOMETHING_NEW', 'permanent'],
    [undefined, 'permanent'],
  ];
  for (const [code, kind] of cases) {
    it(`${code} is ${kind}`, () => {
      const verdict = classifyXapiFailure(code);
      assert.equal(verdict.kind, kind);
      assert.ok(verdict.advice.length > 5);
    });
  }
});

describe('XapiCallError.from', () => {
  it('keeps the XAPI code and parameters in fields and message', () => {
    const xapiError = Object.assign(new Error('SR_BACKEND_FAILURE_82(, Failed to snapshot VDI, )'), {
      code: 'SR_BACKEND_FAILURE_82',
      params: ['', 'Failed to snapshot VDI', ''],
    });
    const error = XapiCallError.from('VM.snapshot', xapiError);
    assert.equal(error.code, 'XAPI_CALL_FAILED');
    assert.equal(error.xapiCode, 'SR_BACKEND_FAILURE_82');
    assert.deepEqual(error.params, ['', 'Failed to snapshot VDI', '']);
    assert.equal(error.retryable, false);
    assert.match(error.message, /^XAPI VM\.snapshot failed: SR_BACKEND_FAILURE_82\(, Failed to snapshot VDI, \) — /);
    assert.equal(error.cause, xapiError);
    assert.equal(XapiCallError.from('x', error), error, 'idempotent');
  });
  it('names HTTP failures by status and network failures by their code', () => {
    const http = Object.assign(new Error('unexpected 401'), { response: { statusCode: 401 } });
    assert.equal(XapiCallError.from('export_raw_vdi', http).xapiCode, 'HTTP_401');
    const net = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const error = XapiCallError.from('VM.get_record', net);
    assert.equal(error.xapiCode, 'ECONNRESET');
    assert.equal(error.retryable, true);
    const plain = XapiCallError.from('VM.get_record', new Error('task has been destroyed before completion'));
    assert.equal(plain.xapiCode, 'UNKNOWN');
    assert.match(plain.message, /destroyed before completion/);
  });
});

const PAGE = [
  'HTTP/1.1 500 Internal Error',
  'content-length: 357',
  'content-type:text/html',
  '',
  '<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred.<h1> Additional information </h1>SR_BACKEND_FAILURE_46: [ ; The VDI is not available [opterr=VDI x not detached cleanly];  ]</body></html>',
].join('\r\n');

describe('an HTTP error page inside an export body (xen-api#4603)', () => {
  it('parses the status line and the XAPI code', () => {
    const found = parseEmbeddedHttpError(Buffer.from(PAGE));
    assert.equal(found?.code, 'SR_BACKEND_FAILURE_46');
    assert.equal(found?.statusLine, 'HTTP/1.1 500 Internal Error');
    assert.equal(parseEmbeddedHttpError(Buffer.from('conectix')), undefined);
    assert.equal(parseEmbeddedHttpError(Buffer.from('HTTP/1.1 500 x\r\n\r\nno code'))?.code, 'HTTP_ERROR_IN_BODY');
  });
  it('refuses such a body even when split in tiny chunks', async () => {
    const chunks = [...Buffer.from(PAGE)].map((byte) => Buffer.from([byte]));
    await assert.rejects(guardExportBody(Readable.from(chunks), 'export_raw_vdi'), (error: unknown) => {
      assert.ok(error instanceof XapiCallError);
      assert.equal(error.xapiCode, 'SR_BACKEND_FAILURE_46');
      assert.equal(error.retryable, true);
      return true;
    });
  });
  it('passes a VHD body through unchanged', async () => {
    const parts = [Buffer.from('con'), Buffer.from('ectix'), Buffer.alloc(1000, 7)];
    const guarded = await guardExportBody(Readable.from(parts), 'export_raw_vdi');
    const out: Buffer[] = [];
    for await (const chunk of guarded) out.push(chunk);
    assert.deepEqual(Buffer.concat(out), Buffer.concat(parts));
  });
  it('passes an empty body through (the parser reports it)', async () => {
    const guarded = await guardExportBody(Readable.from([]), 'export_raw_vdi');
    const out: Buffer[] = [];
    for await (const chunk of guarded) out.push(chunk);
    assert.equal(out.length, 0);
  });
});
