// Which export names the lab's NBD server serves: a VDI with data, named with a live session
// (export-name.ts). Refusals carry a message for the client (NBD_REP_ERR_UNKNOWN's text).
import type { SessionManager } from '../rpc/session-manager.js';
import type { DiskReader } from '../disk/disk-reader.js';
import type { LabState } from '../state/lab-state.js';
import { parseExportName } from './export-name.js';

export type ExportLookup = { vdiUuid: string; size: number } | { refused: string };

/** What a connection needs of the exports: look a name up, open a found one. */
export interface ExportSource {
  lookup(exportName: string): ExportLookup;
  /** A point-in-time reader of the export's disk; the caller closes it. */
  open(vdiUuid: string): Pick<DiskReader, 'virtualSize' | 'blockSize' | 'isAllocated' | 'readRange' | 'close'>;
}

export class NbdExports implements ExportSource {
  constructor(
    private readonly state: LabState,
    private readonly sessions: SessionManager,
  ) {}

  lookup(exportName: string): ExportLookup {
    const name = parseExportName(exportName);
    if (!name) return { refused: 'not an export name of the form /<vdi uuid>?session_id=<session>' };
    if (!this.sessions.isValid(name.sessionRef)) return { refused: 'the session of this export name is not valid (logged out or expired)' };
    const ref = this.state.records.findByUuid('VDI', name.vdiUuid);
    const vdi = ref === undefined ? undefined : this.state.records.find('VDI', ref);
    if (!vdi) return { refused: `no VDI ${name.vdiUuid}` };
    if (vdi['type'] === 'cbt_metadata') return { refused: `VDI ${name.vdiUuid} has no data (cbt_metadata)` };
    return { vdiUuid: name.vdiUuid, size: vdi['virtual_size'] as number };
  }

  /** A point-in-time reader of the export's disk; the caller closes it. */
  open(vdiUuid: string): DiskReader {
    return this.state.disks.openReader(vdiUuid);
  }
}
