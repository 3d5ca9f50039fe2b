// The lab's admin endpoints under /lab/ (HTTP Basic auth with the pool's credentials), for tests,
// demos and benchmarks — not part of XAPI:
//   GET  /lab/state                  the fleet (VMs, their disks, snapshots) and SR snapshot data as JSON
//   POST /lab/write?vdi=&pattern=&percent=&seed=[&content=random|mixed]   change a disk as a guest would
//   GET  /lab/digest?vdi=            SHA-256 of a disk's whole content
//   GET|POST|DELETE /lab/faults      show, arm (JSON body; null disarms one), clear faults
//   POST /lab/delete-snapshot?uuid=  an admin deleting a snapshot (VM or VDI uuid)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZodError } from 'zod';
import type { LabServices } from '../lab-services.js';
import { adminDeleteSnapshot } from '../model/admin-operations.js';
import { vdiRefOf } from '../model/vdi-operations.js';
import { toFailure } from '../rpc/rpc-dispatcher.js';
import { XapiFailure } from '../rpc/xapi-failure.js';
import { applyWrites } from '../workload/apply-writes.js';
import { CONTENT_KINDS, type ContentKind } from '../workload/content-kind.js';
import { diskDigest } from '../workload/disk-digest.js';
import { WRITE_PATTERNS, planWrites, type WritePattern } from '../workload/write-plan.js';
import { labSummary } from './lab-summary.js';
import { replyJson } from './http-replies.js';
import { readBody } from './json-rpc-handler.js';

export async function handleAdmin(lab: LabServices, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (!authorized(lab, req)) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="deltachain lab"', 'content-length': 0 });
    return void res.end();
  }
  const route = `${req.method} ${url.pathname.replace(/\/$/, '')}`;
  const q = url.searchParams;
  try {
    switch (route) {
      case 'GET /lab/state':
        return replyJson(res, 200, labSummary(lab.state));
      case 'POST /lab/write':
        return replyJson(res, 200, await labWrite(lab, q));
      case 'GET /lab/digest':
        return replyJson(res, 200, await diskDigest(lab.state, vdiRefOf(lab.state, q.get('vdi') ?? '')));
      case 'GET /lab/faults':
        return replyJson(res, 200, lab.faults.current());
      case 'POST /lab/faults':
        return replyJson(res, 200, lab.faults.update(JSON.parse((await readBody(req, 1 << 20)).toString('utf8') || '{}')));
      case 'DELETE /lab/faults':
        lab.faults.clear();
        return replyJson(res, 200, lab.faults.current());
      case 'POST /lab/delete-snapshot':
        return replyJson(res, 200, await lab.dispatcher.exclusive(() => adminDeleteSnapshot(lab.state, q.get('uuid') ?? '')));
      default:
        return replyJson(res, 404, { error: 'NOT_FOUND', message: `no admin endpoint ${route}` });
    }
  } catch (error) {
    if (error instanceof ZodError) {
      const message = error.issues.map((i) => `${i.path.join('.') || '(faults)'}: ${i.message}`).join('; ');
      return replyJson(res, 400, { error: 'INVALID_INPUT', message });
    }
    if (error instanceof SyntaxError) return replyJson(res, 400, { error: 'INVALID_INPUT', message: error.message });
    const failure = toFailure(error, lab.logger);
    return replyJson(res, 400, { error: failure.code, params: failure.params, message: failure.message });
  }
}

async function labWrite(lab: LabServices, q: URLSearchParams) {
  const vdiRef = vdiRefOf(lab.state, q.get('vdi') ?? '');
  const pattern = q.get('pattern') as WritePattern;
  if (!WRITE_PATTERNS.includes(pattern)) throw new XapiFailure('INVALID_VALUE', ['pattern', String(pattern)]);
  const percent = Number(q.get('percent'));
  const seed = Number(q.get('seed') ?? 1);
  const content = (q.get('content') ?? 'random') as ContentKind;
  if (!CONTENT_KINDS.includes(content)) throw new XapiFailure('INVALID_VALUE', ['content', String(content)]);
  if (!(percent > 0 && percent <= 100)) throw new XapiFailure('INVALID_VALUE', ['percent', String(q.get('percent'))]);
  if (!Number.isInteger(seed)) throw new XapiFailure('INVALID_VALUE', ['seed', String(q.get('seed'))]);
  const vdi = lab.state.records.get('VDI', vdiRef);
  if (vdi['is_a_snapshot'] === true) throw new XapiFailure('OPERATION_NOT_ALLOWED', [`VDI ${vdi.uuid} is a snapshot: guests write to the VM's own disks`]);
  const extents = planWrites({ pattern, virtualSize: vdi['virtual_size'] as number, percent, seed });
  const result = await applyWrites(lab.state, vdiRef, extents, seed, content);
  await lab.state.save();
  return { vdi: vdi.uuid, pattern, percent, seed, content, ...result };
}

function authorized(lab: LabServices, req: IncomingMessage): boolean {
  const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (m === null) return false;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon > 0 && lab.sessions.matches(text.slice(0, colon), text.slice(colon + 1));
}

