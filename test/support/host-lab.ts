// A lab pool for host agent tests: a temporary state folder, a small fleet (VMs with a few
// small disks), the XAPI facade connected through the real `xen-api` client, and the lab's
// admin client (writes, digests, faults). `close()` disconnects, stops the lab and removes the
// folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabPool, LabAdminClient, type LabPool, type FleetConfig } from '../../lab/pool/index.js';
import { connectXapi } from '../../agent/host/xapi/connect-xapi.js';
import type { HostXapi } from '../../agent/host/xapi/host-xapi.js';
import { createLogger, type Logger } from '../../shared/logging/index.js';

export const MiB = 1024 * 1024;

export interface HostLab {
  lab: LabPool;
  admin: LabAdminClient;
  xapi: HostXapi;
  logger: Logger;
  /** Uuid of the first VM named `name` (not a snapshot). */
  vmUuid(name: string): Promise<string>;
  /** The disk VDI uuids of a VM, in device order. */
  diskUuids(vmUuid: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface HostLabOptions {
  fleet?: Partial<FleetConfig>;
  /** Fast retries so failure tests stay quick. */
  retry?: { tries: number; baseDelayMs: number; maxDelayMs: number };
  /** The pool's XAPI password (default the lab's). */
  password?: string;
}

/** Two VMs: `web` with two disks (32 MiB + 16 MiB), `db` with one 16 MiB disk. */
export const SMALL_FLEET = {
  srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 34 }, { name: 'Restore SR', type: 'ext', size: 2 ** 34 }],
  networks: [{ name: 'Pool-wide network associated with eth0', bridge: 'xenbr0', MTU: 1500 }],
  vms: [
    { name: 'web', disks: [{ name: 'web root', size: 32 * MiB, fill: 40 }, { name: 'web data', size: 16 * MiB, fill: 50 }] },
    { name: 'db', disks: [{ name: 'db root', size: 16 * MiB, fill: 60 }] },
  ],
};

export async function startHostLab(options: HostLabOptions = {}): Promise<HostLab> {
  const state = await mkdtemp(join(tmpdir(), 'deltachain-host-lab-'));
  const logger = createLogger({ level: (process.env.DELTACHAIN_TEST_LOG as 'debug' | undefined) ?? 'silent', pretty: false });
  const lab = await startLabPool({
    config: { state, fleet: { ...SMALL_FLEET, ...options.fleet }, seed: 7, ...(options.password === undefined ? {} : { password: options.password }) },
  });
  let xapi: HostXapi | undefined;
  try {
    xapi = await connectXapi({
      url: lab.url,
      user: lab.user,
      password: lab.password,
      allowUnauthorized: false,
      callLimit: 8,
      callTimeoutMs: 30_000,
      retry: options.retry ?? { tries: 4, baseDelayMs: 20, maxDelayMs: 100 },
      logger,
    });
  } catch (error) {
    await lab.close();
    await rm(state, { recursive: true, force: true });
    throw error;
  }
  const admin = new LabAdminClient(lab.url, { user: lab.user, password: lab.password });
  const connected = xapi;
  return {
    lab,
    admin,
    xapi: connected,
    logger,
    async vmUuid(name) {
      const summary = await admin.state();
      const vm = summary.vms.find((v) => v.name === name && !v.isSnapshot);
      if (vm === undefined) throw new Error(`no VM named ${name} in the lab`);
      return vm.uuid;
    },
    async diskUuids(vmUuid) {
      const summary = await admin.state();
      const vm = summary.vms.find((v) => v.uuid === vmUuid);
      if (vm === undefined) throw new Error(`no VM ${vmUuid} in the lab`);
      return [...vm.disks].sort((a, b) => Number(a.userdevice) - Number(b.userdevice)).map((d) => d.vdi);
    },
    async close() {
      await connected.client.disconnect().catch(() => undefined);
      await lab.close();
      await rm(state, { recursive: true, force: true });
    },
  };
}
