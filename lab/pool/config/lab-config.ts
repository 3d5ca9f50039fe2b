// The lab pool's configuration: where its state lives, how it listens, its credentials, the
// fleet it creates on first start (pools, SRs, networks, VMs with disks and seeded content) and
// the faults armed at start. A config file holds the same shape as JSON (`deltachain-lab pool --config`);
// flags fill the common cases. Parsed once into a frozen object. Sizes: see parse-size.ts.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../../../shared/errors.js';
import { metricsSchema } from '../../../shared/observability/index.js';
import { faultsSchema } from '../faults/fault-config.js';
import { NETWORK_PURPOSES } from '../nbd/nbd-network.js';
import { CONTENT_KINDS, type ContentKind } from '../workload/content-kind.js';
import { parseSize } from './parse-size.js';

const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const diskSchema = z
  .object({
    name: z.string().optional(),
    /** Virtual size: bytes or "16GiB". */
    size,
    /** SR name; default the first SR. */
    sr: z.string().optional(),
    /** Share of the disk (percent) written with seeded content at creation, in 2 MiB runs. */
    fill: z.number().min(0).max(100).default(5),
    /** What the fill writes: `random` (incompressible) or `mixed` (random, text-like, zeros). */
    content: z.enum(CONTENT_KINDS as [ContentKind, ...ContentKind[]]).default('random'),
  })
  .strict();

const vmSchema = z
  .object({
    name: z.string().min(1),
    powerState: z.enum(['Running', 'Halted']).default('Running'),
    /** Memory: bytes or "1GiB". */
    memory: size.default(1024 ** 3),
    vcpus: z.number().int().positive().default(1),
    otherConfig: z.record(z.string(), z.string()).default({}),
    disks: z.array(diskSchema).default([]),
    /** An empty CD drive (userdevice 3 when free), as most VMs have. */
    cd: z.boolean().default(true),
    /** One VIF per entry; `network` is a network name (default the first). */
    vifs: z.array(z.object({ network: z.string().optional(), mac: z.string().optional() }).strict()).default([{}]),
  })
  .strict();

export const fleetSchema = z
  .object({
    pool: z.string().default('Lab pool'),
    host: z.string().default('lab-host'),
    srs: z
      .array(z.object({ name: z.string().min(1), type: z.string().default('ext'), size: size.default(2 ** 40) }).strict())
      .min(1)
      .default([{ name: 'Local storage', type: 'ext', size: 2 ** 40 }]),
    networks: z
      .array(z
        .object({
          name: z.string().min(1),
          bridge: z.string().optional(),
          MTU: z.number().int().default(1500),
          /** XAPI's network.purpose: `nbd` (NBD with TLS) or `insecure_nbd` (plaintext); one kind per pool. */
          purpose: z.array(z.enum(NETWORK_PURPOSES)).max(1).default([]),
        })
        .strict())
      .min(1)
      .default([{ name: 'Pool-wide network associated with eth0', bridge: 'xenbr0', MTU: 1500, purpose: [] }]),
    vms: z.array(vmSchema).default([]),
  })
  .strict()
  .refine((fleet) => new Set(fleet.networks.flatMap((n) => n.purpose)).size <= 1, { message: 'networks: nbd and insecure_nbd cannot both be set (one kind per pool)', path: ['networks'] });

export const labConfigSchema = z
  .object({
    /** Folder of the lab's state (records and disks); created when missing. */
    state: z.string().min(1),
    /** Address to listen on. */
    host: z.string().default('127.0.0.1'),
    /** TCP port; 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(0),
    user: z.string().min(1).default('root'),
    password: z.string().min(1).default('lab'),
    /**
     * How export bodies end: `chunked` (default) or `close` — real XAPI's framing, which the
     * xen-api client's undici 6 may crash on under backpressure (see http/http-replies.ts).
     */
    exportFraming: z.enum(['chunked', 'close']).default('chunked'),
    /** Seed of the fleet's disk content (deterministic). */
    seed: z.number().int().default(1),
    fleet: fleetSchema.default(fleetSchema.parse({})),
    faults: faultsSchema.default({}),
    /** The NBD server (VDI.get_nbd_info); serves only while a network has purpose nbd or insecure_nbd. */
    nbd: z
      .object({
        /** Address to listen on and to give clients; default `host`. */
        address: z.string().optional(),
        /** TCP port; 0 (default) picks a free one. */
        port: z.number().int().min(0).max(65535).default(0),
      })
      .strict()
      .default({ port: 0 }),
    /** /healthz and /metrics (shared/observability); served only when given. */
    metrics: metricsSchema.optional(),
  })
  .strict();

export type LabConfig = Readonly<z.infer<typeof labConfigSchema>>;
export type FleetConfig = z.infer<typeof fleetSchema>;
/** A fleet as a config file may write it (defaults not yet applied). */
export type FleetInput = z.input<typeof fleetSchema>;
export type VmConfig = z.infer<typeof vmSchema>;

/** Validates a config object; errors name the field. */
export function parseLabConfig(input: unknown): LabConfig {
  const result = labConfigSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`lab config: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return Object.freeze(result.data);
}

export async function readLabConfigFile(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`lab config ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** The fleet `deltachain-lab pool --vms N --disk-size S` describes: N running VMs with one disk each. */
export function simpleFleet(vms: number, diskSize: number, fill: number, content: ContentKind = 'random'): FleetConfig {
  return fleetSchema.parse({
    vms: Array.from({ length: vms }, (_, i) => ({
      name: `lab-vm-${i + 1}`,
      disks: [{ name: `lab-vm-${i + 1} disk 0`, size: diskSize, fill, content }],
    })),
  });
}
