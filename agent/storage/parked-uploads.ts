// Uploads kept after their stream broke, so that the sender can resume them (docs/remote-format.md
// §7, "Resumed uploads"). A PutDisk whose caller marked it resumable (request metadata
// `deltachain-resumable: 1`) and that breaks before its trailer — a cut link, a cancelled call —
// is parked here instead of being aborted: its temporary file, the blocks written so far, their
// checksums and digest stay as they were, its claim on the disk still held. A later PutDisk of
// the same disk of the same backup from the same caller asking to resume (`deltachain-resume: 1`)
// with the same header takes it up and is told, in its response's initial metadata
// (`deltachain-resume-after`), the index of the last block the remote holds; the sender skips the
// blocks up to it (still counting them into its digest, so the trailer's digest check covers the
// whole disk, those blocks as the remote holds them included). A parked upload that nobody takes
// up within PARK_MS is aborted (its temporary removed), as is one whose backup is discarded, and
// one replaced by a PutDisk of the same disk that does not resume. Parked uploads live in the
// storage agent's memory only: after a restart their temporaries are leftovers (removed at start)
// and the sender starts the disk again.
//
// A link that goes silent instead of breaking leaves this side's stream open while the sender has
// given up on it (its keepalive) and asks to resume over a new connection. So a resume from the
// same caller with the same header also:
//   * supersedes the caller's stream of that disk still open here: it is broken off and parked,
//     then taken up (`supersede`);
//   * finds the disk already received when that earlier stream, delivered late, ran to its end:
//     the resume is told every block is held and its trailer is checked against the received disk
//     (`finished`, kept PARK_MS), instead of being refused as a second upload.
import type { Logger } from '../../shared/logging/index.js';
import type { DiskHeaderInput, DiskReceiver, ReceivedDisk } from './disk-receiver.js';

/** How long a broken upload waits to be resumed. */
export const PARK_MS = 10 * 60_000;

/** How long a resume waits for the stream it supersedes to end and be parked, ms. */
const SUPERSEDE_WAIT_MS = 5_000;

export { RESUMABLE_KEY, RESUME_AFTER_KEY, RESUME_KEY } from '../../shared/grpc/upload-resume.js';

interface Parked {
  receiver: DiskReceiver;
  caller: string;
  timer: NodeJS.Timeout;
}

/** A resumable stream open now: how to break it off (resolves once it has been parked or ended). */
interface Live {
  header: DiskHeaderInput;
  caller: string;
  breakOff: () => Promise<void>;
}

/** A disk a resumable stream received whole: what a late resume of it is answered. */
export interface FinishedUpload {
  header: DiskHeaderInput;
  caller: string;
  received: ReceivedDisk;
  lastIndex: number;
}

function keyOf(h: Pick<DiskHeaderInput, 'vmUuid' | 'backupId' | 'diskKey'>): string {
  return `${h.vmUuid}/${h.backupId}/${h.diskKey}`;
}

/** Headers that describe the same disk upload (a resume must not change what is being written). */
export function sameUpload(a: DiskHeaderInput, b: DiskHeaderInput): boolean {
  return (
    a.vmUuid === b.vmUuid && a.backupId === b.backupId && a.diskKey === b.diskKey && a.virtualSize === b.virtualSize && a.blockSize === b.blockSize &&
    a.footerUuid === b.footerUuid && (a.parentFooterUuid ?? '') === (b.parentFooterUuid ?? '') && a.timestampMs === b.timestampMs && a.checksumRule === b.checksumRule
  );
}

export class ParkedUploads {
  readonly #parked = new Map<string, Parked>();
  readonly #live = new Map<string, Live>();
  readonly #finished = new Map<string, FinishedUpload & { timer: NodeJS.Timeout }>();

  constructor(
    private readonly logger: Logger,
    private readonly parkMs = PARK_MS,
  ) {}

  /** Keeps `receiver` for `caller` to resume; a receiver already parked for the disk is aborted. */
  async park(receiver: DiskReceiver, caller: string): Promise<void> {
    const key = keyOf(receiver.header);
    await this.#drop(key);
    const timer = setTimeout(() => {
      if (this.#parked.get(key)?.receiver !== receiver) return;
      this.#parked.delete(key);
      this.logger.info({ vm: receiver.header.vmUuid, backupId: receiver.header.backupId, disk: receiver.header.diskKey }, 'a broken upload was not resumed in time; its temporary is removed');
      void receiver.abort();
    }, this.parkMs).unref();
    this.#parked.set(key, { receiver, caller, timer });
  }

  /**
   * With `resume`, the parked upload of `header`'s disk if `caller` parked it and the header is
   * the same; any other parked upload of that disk is aborted (a fresh upload replaces it).
   */
  async take(header: DiskHeaderInput, caller: string, resume: boolean): Promise<DiskReceiver | undefined> {
    const key = keyOf(header);
    const parked = this.#parked.get(key);
    if (resume && parked !== undefined && parked.caller === caller && sameUpload(parked.receiver.header, header)) {
      clearTimeout(parked.timer);
      this.#parked.delete(key);
      return parked.receiver;
    }
    await this.#drop(key);
    return undefined;
  }

  /** A resumable stream whose header came: a resume of it from the same caller may break it off. Returns the unregister function. */
  opened(header: DiskHeaderInput, caller: string, breakOff: () => Promise<void>): () => void {
    const key = keyOf(header);
    const live = { header, caller, breakOff };
    this.#live.set(key, live);
    return () => {
      if (this.#live.get(key) === live) this.#live.delete(key);
    };
  }

  /** Breaks off `caller`'s open stream of the same upload, if any, so that a resume can take it up. */
  async supersede(header: DiskHeaderInput, caller: string): Promise<boolean> {
    const live = this.#live.get(keyOf(header));
    if (live === undefined || live.caller !== caller || !sameUpload(live.header, header)) return false;
    this.logger.info({ vm: header.vmUuid, backupId: header.backupId, disk: header.diskKey }, 'a resume supersedes the same caller\'s stream still open here (a silent link): it is broken off and taken up');
    // Bounded: a stream that does not end when broken off must not hold the resume; its claim on
    // the disk then refuses the resume as busy (retryable) until it ends.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([live.breakOff().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SUPERSEDE_WAIT_MS)))]);
    clearTimeout(timer);
    if (!ended) this.logger.warn({ vm: header.vmUuid, backupId: header.backupId, disk: header.diskKey }, 'the superseded stream did not end in time; the resume goes on without it');
    return ended;
  }

  /** A resumable stream received its disk whole: kept a while for a late resume of it. */
  finished(upload: FinishedUpload): void {
    const key = keyOf(upload.header);
    const earlier = this.#finished.get(key);
    if (earlier) clearTimeout(earlier.timer);
    const timer = setTimeout(() => this.#finished.delete(key), this.parkMs).unref();
    this.#finished.set(key, { ...upload, timer });
  }

  /** The disk `caller`'s earlier stream of the same upload received whole, if any. */
  receivedBefore(header: DiskHeaderInput, caller: string): FinishedUpload | undefined {
    const done = this.#finished.get(keyOf(header));
    return done !== undefined && done.caller === caller && sameUpload(done.header, header) ? done : undefined;
  }

  /** Aborts the parked uploads of a backup (it is being discarded). */
  async discard(vmUuid: string, backupId: string): Promise<void> {
    for (const key of [...this.#finished.keys()]) if (key.startsWith(`${vmUuid}/${backupId}/`)) this.#finished.delete(key);
    for (const key of [...this.#parked.keys()]) if (key.startsWith(`${vmUuid}/${backupId}/`)) await this.#drop(key);
  }

  async #drop(key: string): Promise<void> {
    const parked = this.#parked.get(key);
    if (parked === undefined) return;
    clearTimeout(parked.timer);
    this.#parked.delete(key);
    await parked.receiver.abort();
  }
}
