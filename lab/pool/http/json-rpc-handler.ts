// POST /jsonrpc: XAPI's JSON-RPC 2.0 endpoint. Replies carry `content-type: application/json`
// exactly — anything else (even with a charset) makes the xen-api client fall back to XML-RPC.
// Failures are `{code: 1, message: <XAPI code>, data: <params>}`, which the client turns into
// XapiError(code, params).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LabServices } from '../lab-services.js';
import { toFailure } from '../rpc/rpc-dispatcher.js';
import { replyJson } from './http-replies.js';

const MAX_BODY = 16 * 1024 * 1024;

export async function handleJsonRpc(lab: LabServices, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let request: { method?: unknown; params?: unknown; id?: unknown };
  try {
    request = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8'));
  } catch (error) {
    return replyJson(res, 200, { jsonrpc: '2.0', error: { code: -32700, message: 'PARSE_ERROR', data: [(error as Error).message] }, id: null });
  }
  const id = request.id ?? null;
  if (typeof request.method !== 'string' || (request.params !== undefined && !Array.isArray(request.params))) {
    return replyJson(res, 200, { jsonrpc: '2.0', error: { code: -32600, message: 'INVALID_REQUEST', data: [] }, id });
  }
  try {
    const result = await lab.dispatcher.call(request.method, (request.params as unknown[] | undefined) ?? []);
    replyJson(res, 200, { jsonrpc: '2.0', result: result ?? '', id });
  } catch (error) {
    const failure = toFailure(error, lab.logger);
    replyJson(res, 200, { jsonrpc: '2.0', error: { code: 1, message: failure.code, data: failure.params }, id });
  }
}

export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new Error(`request body over ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
