// The lab's persistent state in its folder: `state.json` (every record but tasks and sessions,
// written atomically after each change) and the disk store (`srs/…`). Opening reconciles the two:
// maps no VDI record names are deleted (a crash between the two writes), and a VDI record
// without a map gets an empty disk. Record changes feed the event log.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../shared/files/atomic-write.js';
import { DiskStore } from '../disk/disk-store.js';
import { EventLog } from '../events/event-log.js';
import { RecordStore, type SavedRecords } from '../records/record-store.js';
import { LabStateError } from './lab-state-error.js';

/** Classes the lab serves, with XAPI's capitalisation. */
export const LAB_CLASSES = ['pool', 'host', 'SR', 'PBD', 'network', 'VM', 'VBD', 'VDI', 'VIF', 'task'] as const;
const TRANSIENT = new Set(['task']);

export class LabState {
  private saving: Promise<void> = Promise.resolve();
  /** Disk bytes served since the lab started: by `export_raw_vdi` (raw or VHD) and by NBD reads — what backups cost the pool. */
  readonly served = { export: 0, nbd: 0 };

  private constructor(
    readonly dir: string,
    readonly records: RecordStore,
    readonly disks: DiskStore,
    readonly events: EventLog,
    /** True when the folder held no state: the caller builds the fleet. */
    readonly isNew: boolean,
  ) {}

  static async open(dir: string): Promise<LabState> {
    await mkdir(dir, { recursive: true });
    const events = new EventLog();
    const records = new RecordStore(LAB_CLASSES, TRANSIENT, (change) => events.append(change));
    const saved = await readState(join(dir, 'state.json'));
    if (saved !== undefined) records.load(saved);
    const disks = await DiskStore.open(dir);
    const state = new LabState(dir, records, disks, events, saved === undefined);
    await state.reconcile();
    return state;
  }

  get poolRef(): string {
    const [entry] = this.records.entries('pool');
    if (entry === undefined) throw new LabStateError(`${this.dir}: the lab has no pool record`);
    return entry[0];
  }

  get hostRef(): string {
    return this.records.get('pool', this.poolRef)['master'] as string;
  }

  /** Writes state.json when records changed; concurrent calls are serialised. */
  save(): Promise<void> {
    if (!this.records.needsSave) return this.saving;
    const next = this.saving.then(async () => {
      if (!this.records.needsSave) return;
      this.records.markSaved();
      try {
        await writeFileAtomic(join(this.dir, 'state.json'), JSON.stringify(this.records.toJSON()), { mode: 0o600 });
      } catch (error) {
        this.records.markDirty();
        throw error;
      }
    });
    this.saving = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.save();
    this.events.wakeAll();
    await this.disks.close();
  }

  private async reconcile(): Promise<void> {
    const vdis = this.records.entries('VDI');
    await this.disks.removeOrphans(new Set(vdis.map(([, vdi]) => vdi.uuid)));
    for (const [, vdi] of vdis) {
      if (this.disks.has(vdi.uuid) || vdi['type'] === 'cbt_metadata') continue;
      const sr = this.records.get('SR', vdi['SR'] as string);
      await this.disks.create(sr.uuid, vdi.uuid, vdi['virtual_size'] as number);
    }
  }
}

/** The saved records, or undefined for a new lab (no state file yet). */
async function readState(path: string): Promise<SavedRecords | undefined> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  try {
    const saved = JSON.parse(text) as SavedRecords;
    if (saved.version !== 1 || typeof saved.classes !== 'object') throw new Error('unknown layout');
    return saved;
  } catch (error) {
    throw new LabStateError(`${path}: not a lab state file (${(error as Error).message}); move it away to start afresh`, {
      cause: error,
    });
  }
}
