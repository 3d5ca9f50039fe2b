// Real XAPI sometimes answers an export with 200 and then writes a whole HTTP error response
// (status line, headers, an HTML page naming the XAPI error) as the *body*
// (xapi-project/xen-api#4603). Such a body starts with `HTTP/`; a VHD starts with `conectix`.
// `guardExportBody` looks at the first bytes before anything is forwarded and turns that case into
// an XapiCallError carrying the XAPI code found in the page (often SR_BACKEND_FAILURE_46).
import { XapiCallError } from './xapi-call-error.js';

const MARKER = Buffer.from('HTTP/');
/** How much of an error page is read to find the XAPI code. */
const ERROR_PAGE_BYTES = 2048;

export interface EmbeddedHttpError {
  code: string;
  params: string[];
  statusLine: string;
}

/** Pure: if `head` (the first bytes of a body) is an HTTP response, describes the error in it. */
export function parseEmbeddedHttpError(head: Buffer): EmbeddedHttpError | undefined {
  if (head.length < MARKER.length || !head.subarray(0, MARKER.length).equals(MARKER)) return undefined;
  const text = head.toString('latin1');
  const statusLine = text.split(/\r?\n/, 1)[0] ?? '';
  const found = /([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)\s*:\s*\[([^\]]*)\]/.exec(text);
  if (found === null) return { code: 'HTTP_ERROR_IN_BODY', params: [statusLine], statusLine };
  const params = found[2]!.split(';').map((part) => part.trim()).filter((part) => part !== '');
  return { code: found[1]!, params, statusLine };
}

/** Wraps an export body: checks its first bytes, then yields every chunk unchanged. */
export async function guardExportBody(body: AsyncIterable<Buffer>, method: string): Promise<AsyncIterable<Buffer>> {
  const iterator = body[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < MARKER.length || (startsWithMarker(head) && headBytes < ERROR_PAGE_BYTES)) {
    const next = await iterator.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const embedded = parseEmbeddedHttpError(Buffer.concat(head));
  if (embedded !== undefined) {
    await iterator.return?.();
    throw new XapiCallError(method, embedded.code, embedded.params, { detail: `(an HTTP error page in the body: ${embedded.statusLine})` });
  }
  return replay(head, ended ? undefined : iterator);
}

function startsWithMarker(chunks: Buffer[]): boolean {
  const joined = Buffer.concat(chunks);
  return joined.length >= MARKER.length && joined.subarray(0, MARKER.length).equals(MARKER);
}

async function* replay(head: Buffer[], rest: AsyncIterator<Buffer> | undefined): AsyncGenerator<Buffer> {
  yield* head;
  if (rest === undefined) return;
  try {
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    await rest.return?.();
  }
}
