// Starts a lab pool in-process (port 0, state in a temporary folder) with a real `xen-api`
// client connected the way the host agent connects (watchEvents: ['task']), and cleans up:
// client first (so its event loop stops), then the pool, then the folder.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createClient, type Xapi, type XapiRecord } from 'xen-api';
import { LabAdminClient, startLabPool, type LabPool } from '../../lab/pool/index.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface TestLab {
  pool: LabPool;
  /** Temporary folder; the lab's state is in `<dir>/state`. */
  dir: string;
  xapi: Xapi;
  admin: LabAdminClient;
  /** Stops the pool (keeping the folder) and reopens it with the same config and a new client. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestLab(config: Record<string, unknown> = {}): Promise<TestLab> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-pool-test-'));
  const full = { state: join(dir, 'state'), ...config };
  let pool: LabPool;
  try {
    pool = await startLabPool({ config: full });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const lab: TestLab = {
    pool,
    dir,
    xapi: undefined as unknown as Xapi,
    admin: undefined as unknown as LabAdminClient,
    async restart() {
      await lab.xapi.disconnect();
      await lab.pool.close();
      lab.pool = await startLabPool({ config: full });
      lab.admin = new LabAdminClient(lab.pool.urlWithCredentials);
      lab.xapi = await connectXapi(lab.pool);
    },
    async close() {
      await lab.xapi.disconnect().catch(() => undefined);
      await lab.pool.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    lab.admin = new LabAdminClient(lab.pool.urlWithCredentials);
    lab.xapi = await connectXapi(lab.pool);
  } catch (error) {
    await lab.pool.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return lab;
}

/** A connected client as the host agent makes one; `eventPollDelay` short so a stopped pool does not hold timers. */
export async function connectXapi(pool: LabPool, options: { debounce?: number } = {}): Promise<Xapi> {
  const xapi = createClient({
    url: pool.url,
    auth: { user: pool.user, password: pool.password },
    allowUnauthorized: true,
    watchEvents: ['task'],
    eventPollDelay: 100,
    debounce: options.debounce ?? 50,
  });
  await xapi.connect();
  // Let the event loop finish its first fetch, so closing later never cuts it mid-call.
  await xapi.objectsFetched;
  return xapi;
}

/** A fleet of one VM per disk size given (fill: percent of each disk seeded). */
export function fleet(diskSizes: number[], fill = 25): Record<string, unknown> {
  return {
    vms: diskSizes.map((size, i) => ({
      name: `test-vm-${i + 1}`,
      otherConfig: { 'test:index': String(i) },
      disks: [{ name: `test-vm-${i + 1} disk`, size, fill }],
    })),
  };
}

export interface VmDisk {
  vmRef: string;
  vm: XapiRecord;
  vbdRef: string;
  vdiRef: string;
  vdi: XapiRecord;
}

/** The first disk of the VM named `name` (default the first non-snapshot VM). */
export async function vmDisk(xapi: Xapi, name?: string): Promise<VmDisk> {
  const vms = await xapi.call<Record<string, XapiRecord>>('VM.get_all_records');
  const entry = Object.entries(vms).find(([, vm]) => vm['is_a_snapshot'] === false && (name === undefined || vm['name_label'] === name));
  if (entry === undefined) throw new Error(`no VM ${name ?? ''}`);
  const [vmRef, vm] = entry;
  for (const vbdRef of vm['VBDs'] as string[]) {
    const vbd = await xapi.call<XapiRecord>('VBD.get_record', vbdRef);
    if (vbd['type'] !== 'Disk') continue;
    const vdiRef = vbd['VDI'] as string;
    return { vmRef, vm, vbdRef, vdiRef, vdi: await xapi.call<XapiRecord>('VDI.get_record', vdiRef) };
  }
  throw new Error(`VM ${vm['name_label']} has no disk`);
}

/** The snapshot VDI of `vdiRef` inside snapshot VM `snapRef`. */
export async function snapshotDisk(xapi: Xapi, snapRef: string): Promise<{ vdiRef: string; vdi: XapiRecord }> {
  const snap = await xapi.call<XapiRecord>('VM.get_record', snapRef);
  for (const vbdRef of snap['VBDs'] as string[]) {
    const vbd = await xapi.call<XapiRecord>('VBD.get_record', vbdRef);
    if (vbd['type'] === 'Disk') return { vdiRef: vbd['VDI'] as string, vdi: await xapi.call<XapiRecord>('VDI.get_record', vbd['VDI']) };
  }
  throw new Error('snapshot without a disk');
}

export async function readAll(body: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** Writes a response body to a file, streamed; returns the byte count. */
export async function saveBody(body: Readable, path: string): Promise<number> {
  await pipeline(body, createWriteStream(path));
  return (await stat(path)).size;
}
