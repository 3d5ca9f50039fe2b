// The faults a lab pool can inject, as configuration (a config file's `faults`, or the body of
// `POST /lab/faults`). Each one-shot fault fires `times` times (default 1, or "always"), then
// clears itself. See docs/lab-pool.md ("Fault injection") for what a client sees for each.
import { z } from 'zod';
import { isUuid } from '../../../shared/ids.js';

const times = z.union([z.number().int().positive(), z.literal('always')]).default(1);
/** Export faults may be limited to one VDI (uuid); default any. */
const vdi = z.string().refine((v) => isUuid(v.toLowerCase()), 'a VDI uuid').optional();

export const faultsSchema = z
  .object({
    /** Reset the connection (TCP RST) after `afterBytes` of an export body; the task fails with VDI_IO_ERROR. */
    exportCut: z.object({ afterBytes: z.number().int().nonnegative(), times, vdi }).strict().optional(),
    /** End an export body cleanly after `afterBytes` (a short, normal-looking stream); the task fails with VDI_IO_ERROR. */
    exportIoError: z.object({ afterBytes: z.number().int().nonnegative(), times, vdi }).strict().optional(),
    /** Answer 200 with a body that is an HTTP 500 response (xapi-project/xen-api#4603); the task fails with SR_BACKEND_FAILURE_46. */
    exportHttpPrefix: z.object({ times, vdi }).strict().optional(),
    /** Throttle export and import bodies to this many bytes per second, until cleared. */
    slowStreams: z.object({ bytesPerSecond: z.number().int().positive() }).strict().optional(),
    /** The next RPC call with a session fails with SESSION_INVALID and the session is dropped. */
    sessionInvalid: z.object({ times }).strict().optional(),
    /** VM.snapshot fails with SR_BACKEND_FAILURE_82 (snapshot failed), changing nothing. */
    snapshotFailure: z.object({ times }).strict().optional(),
    /** Reset an NBD connection (TCP RST) after `afterBytes` of read data sent on it; counted per connection. */
    nbdCut: z.object({ afterBytes: z.number().int().nonnegative(), times, vdi }).strict().optional(),
    /** The NBD server refuses an export name of this VDI as expired (its session no longer valid), `times` connections. */
    nbdExportExpired: z.object({ times, vdi }).strict().optional(),
    /** VDI.list_changed_blocks fails with VDI_NO_CBT_METADATA, as when a host lost a VDI's CBT log. */
    cbtLost: z.object({ times, vdi }).strict().optional(),
  })
  .strict();

export type FaultsConfig = z.infer<typeof faultsSchema>;
export type FaultName = keyof FaultsConfig;
export const FAULT_NAMES = Object.keys(faultsSchema.shape) as FaultName[];
