// The lab's database: records per XAPI class, by ref, with a uuid index, in memory. Every change
// is reported to a listener (the event log: add / mod / del with a snapshot of the record).
// Classes named in `transientClasses` (tasks, sessions) are not part of the saved state; the
// rest round-trips through `toJSON` / `load`, which the lab writes atomically after each change.
import { randomUUID } from 'node:crypto';
import { handleInvalid, uuidInvalid } from '../rpc/xapi-failure.js';

export type XapiRecord = Record<string, unknown> & { uuid: string };

export interface RecordChange {
  cls: string;
  operation: 'add' | 'mod' | 'del';
  ref: string;
  /** The record after the change (before it, for `del`). */
  snapshot: XapiRecord;
}

export interface SavedRecords {
  version: 1;
  classes: Record<string, Record<string, XapiRecord>>;
}

export const NULL_REF = 'OpaqueRef:NULL';

export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`;
}

export class RecordStore {
  private readonly byClass = new Map<string, Map<string, XapiRecord>>();
  private readonly refByUuid = new Map<string, string>();
  private readonly classByRef = new Map<string, string>();
  private dirty = false;

  constructor(
    readonly classes: readonly string[],
    private readonly transientClasses: ReadonlySet<string>,
    private readonly listener: (change: RecordChange) => void = () => {},
  ) {
    for (const cls of classes) this.byClass.set(cls, new Map());
  }

  /** True when a saved class changed since the last `markSaved`. */
  get needsSave(): boolean {
    return this.dirty;
  }

  markSaved(): void {
    this.dirty = false;
  }

  markDirty(): void {
    this.dirty = true;
  }

  add(cls: string, record: XapiRecord, ref = newRef()): string {
    this.table(cls).set(ref, record);
    this.refByUuid.set(`${cls}/${record.uuid}`, ref);
    this.classByRef.set(ref, cls);
    this.changed(cls, 'add', ref, record);
    return ref;
  }

  /** The record itself (do not mutate it: use `update`). Throws HANDLE_INVALID. */
  get(cls: string, ref: string): XapiRecord {
    const record = this.table(cls).get(ref);
    if (record === undefined) throw handleInvalid(cls, ref);
    return record;
  }

  find(cls: string, ref: string): XapiRecord | undefined {
    return this.byClass.get(cls)?.get(ref);
  }

  has(cls: string, ref: string): boolean {
    return this.byClass.get(cls)?.has(ref) ?? false;
  }

  classOf(ref: string): string | undefined {
    return this.classByRef.get(ref);
  }

  /** Applies `change` to the record and reports a `mod`. */
  update(cls: string, ref: string, change: (record: XapiRecord) => void): XapiRecord {
    const record = this.get(cls, ref);
    change(record);
    this.changed(cls, 'mod', ref, record);
    return record;
  }

  delete(cls: string, ref: string): XapiRecord {
    const record = this.get(cls, ref);
    this.table(cls).delete(ref);
    this.refByUuid.delete(`${cls}/${record.uuid}`);
    this.classByRef.delete(ref);
    this.changed(cls, 'del', ref, record);
    return record;
  }

  refByUuidOf(cls: string, uuid: string): string {
    const ref = this.refByUuid.get(`${cls}/${uuid}`);
    if (ref === undefined) throw uuidInvalid(cls, uuid);
    return ref;
  }

  findByUuid(cls: string, uuid: string): string | undefined {
    return this.refByUuid.get(`${cls}/${uuid}`);
  }

  entries(cls: string): [string, XapiRecord][] {
    return [...this.table(cls).entries()];
  }

  count(cls: string): number {
    return this.table(cls).size;
  }

  /** Refs of `cls` whose record satisfies `test`. */
  filter(cls: string, test: (record: XapiRecord) => boolean): string[] {
    return this.entries(cls)
      .filter(([, record]) => test(record))
      .map(([ref]) => ref);
  }

  toJSON(): SavedRecords {
    const classes: SavedRecords['classes'] = {};
    for (const cls of this.classes) {
      if (this.transientClasses.has(cls)) continue;
      classes[cls] = Object.fromEntries(this.table(cls));
    }
    return { version: 1, classes };
  }

  /** Replaces the content with a saved state (no events). */
  load(saved: SavedRecords): void {
    for (const [cls, records] of Object.entries(saved.classes)) {
      const table = this.table(cls);
      for (const [ref, record] of Object.entries(records)) {
        table.set(ref, record);
        this.refByUuid.set(`${cls}/${record.uuid}`, ref);
        this.classByRef.set(ref, cls);
      }
    }
  }

  private changed(cls: string, operation: RecordChange['operation'], ref: string, snapshot: XapiRecord): void {
    if (!this.transientClasses.has(cls)) this.dirty = true;
    this.listener({ cls, operation, ref, snapshot });
  }

  private table(cls: string): Map<string, XapiRecord> {
    const table = this.byClass.get(cls);
    if (table === undefined) throw new TypeError(`unknown XAPI class ${cls}`);
    return table;
  }
}
