// The bench's lab pool: one running VM with one disk filled with seeded content (default: 100 %
// mixed), started in-process; reports how long creating the disk took. The suite writes to the disk
// with LabAdminClient.write and mirrors it to a raw file with raw-mirror.ts.
import { LabAdminClient, startLabPool, type LabPool } from '../../../lab/pool/index.js';
import type { ContentKind } from '../../../lab/pool/workload/content-kind.js';
import type { LabAccess } from './raw-mirror.js';

export interface WorkloadLabOptions {
  /** State folder of a new lab (must not hold a lab yet, or its fleet is reused). */
  state: string;
  /** Disk virtual size, bytes. */
  size: number;
  /** Share of the disk written at creation (default 100). */
  fill?: number;
  /** Default 'mixed'. */
  content?: ContentKind;
  /** Lab seed (default 1). */
  seed?: number;
}

export interface WorkloadLab {
  lab: LabPool;
  access: LabAccess;
  admin: LabAdminClient;
  /** The disk's VDI uuid. */
  vdi: string;
  /** Seconds to create the lab, filling included (wall clock). */
  createSec: number;
}

export async function startWorkloadLab(o: WorkloadLabOptions): Promise<WorkloadLab> {
  const started = performance.now();
  const lab = await startLabPool({
    config: {
      state: o.state,
      seed: o.seed ?? 1,
      fleet: { vms: [{ name: 'bench', disks: [{ name: 'bench disk 0', size: o.size, fill: o.fill ?? 100, content: o.content ?? 'mixed' }] }] },
    },
  });
  const createSec = (performance.now() - started) / 1000;
  try {
    const access = { url: lab.url, user: lab.user, password: lab.password };
    const admin = new LabAdminClient(lab.url, { user: lab.user, password: lab.password });
    const vdi = (await admin.state()).vms.find((v) => !v.isSnapshot)!.disks[0]!.vdi;
    return { lab, access, admin, vdi, createSec };
  } catch (error) {
    await lab.close();
    throw error;
  }
}
