// The event log behind XAPI's event.from: every record change gets an increasing id; a token is
// the last id a client has seen, prefixed by this process's instance id so a token from before a
// restart (or older than what is kept) gets EVENTS_LOST and the client refetches. Replies hold
// one event per object (the newest, with the record as it is then), like XAPI.
// `wait` is the long poll: it resolves as soon as a matching event is appended, or at timeout.
import { randomBytes } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { XapiFailure } from '../rpc/xapi-failure.js';
import type { RecordChange } from '../records/record-store.js';

export interface XapiEvent {
  id: string;
  /** Seconds since the epoch, as XAPI sends it (a string with a fraction). */
  timestamp: string;
  /** Lowercase class name ("vm", "task"). */
  class: string;
  operation: 'add' | 'mod' | 'del';
  ref: string;
  snapshot: Record<string, unknown>;
}

/**
 * An event as kept: its record snapshot serialized (v8.serialize, structuredClone's format) into one
 * buffer, which the garbage collector does not walk. Kept as objects, tens of thousands of
 * snapshots made every major collection of the lab mark them all: after ~100 restores the lab
 * spent more than half its CPU marking (docs/performance-notes.md).
 */
interface Entry {
  seq: number;
  event: Omit<XapiEvent, 'snapshot'>;
  snapshot: Buffer;
}

/** Which objects a subscriber wants: `*`, a class (`vm`) or one object (`vm/OpaqueRef:…`). */
export class EventFilter {
  private readonly all: boolean;
  private readonly classes = new Set<string>();
  private readonly objects = new Set<string>();

  constructor(specs: string[]) {
    this.all = specs.includes('*');
    for (const spec of specs) {
      const slash = spec.indexOf('/');
      if (slash === -1) this.classes.add(spec.toLowerCase());
      else this.objects.add(`${spec.slice(0, slash).toLowerCase()}/${spec.slice(slash + 1)}`);
    }
  }

  matches(cls: string, ref: string): boolean {
    const lc = cls.toLowerCase();
    return this.all || this.classes.has(lc) || this.objects.has(`${lc}/${ref}`);
  }

  /** Lowercase classes this filter names (all when `*`). */
  wantsClass(cls: string): boolean {
    const lc = cls.toLowerCase();
    return this.all || this.classes.has(lc) || [...this.objects].some((o) => o.startsWith(`${lc}/`));
  }
}

export class EventLog {
  private readonly instance = randomBytes(4).toString('hex');
  private entries: Entry[] = [];
  private seq = 0;
  private waiters = new Set<() => void>();

  constructor(private readonly capacity = 50_000) {}

  append(change: RecordChange): void {
    this.seq += 1;
    const event = {
      id: String(this.seq),
      timestamp: (Date.now() / 1000).toFixed(3),
      class: change.cls.toLowerCase(),
      operation: change.operation,
      ref: change.ref,
    };
    this.entries.push({ seq: this.seq, event, snapshot: serialize(change.snapshot) });
    if (this.entries.length > this.capacity * 1.25) this.entries = this.entries.slice(-this.capacity);
    for (const wake of this.waiters) wake();
  }

  token(): string {
    return `${this.instance}:${String(this.seq).padStart(20, '0')}`;
  }

  /** Events after `token` matching `filter`, newest per object. Throws EVENTS_LOST for a stale token. */
  since(token: string, filter: EventFilter): XapiEvent[] {
    const from = this.parse(token);
    const latest = new Map<string, Entry>();
    for (let i = this.firstIndexAfter(from); i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (!filter.matches(entry.event.class, entry.event.ref)) continue;
      latest.delete(entry.event.ref);
      latest.set(entry.event.ref, entry);
    }
    return [...latest.values()].map(({ event, snapshot }) => ({ ...event, snapshot: deserialize(snapshot) as Record<string, unknown> }));
  }

  /** Resolves when an event is appended, after `timeoutMs`, or when `signal` aborts. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Releases every long poll (shutdown). */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private parse(token: string): number {
    const m = /^([0-9a-f]{8}):(\d{20})$/.exec(token);
    if (m === null || m[1] !== this.instance) throw new XapiFailure('EVENTS_LOST', []);
    const seq = Number(m[2]);
    const oldest = this.entries[0]?.seq ?? this.seq + 1;
    if (seq > this.seq || seq < oldest - 1) throw new XapiFailure('EVENTS_LOST', []);
    return seq;
  }

  private firstIndexAfter(seq: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
