// Bandwidth limits of an agent's transfers across site links, so that a night's backups do not
// fill a site's uplink: a host agent's uploads (config `bandwidth.limits`, `uploadMbit`) and a
// storage agent's mirror pulls (config `storage.mirrorBandwidth.limits`, `pullMbit`). A limit
// applies to every transfer of the agent together (no `remote`: the site's link), or to those with
// one remote (a host agent's destination, a mirror's source); a limit with `from`–`to` (the agent's
// local time, may wrap midnight) replaces the all-day limit of the same scope while it lasts. Each
// block a transfer moves first takes its bytes from the buckets of the limits in force: the
// site's, shared by all transfers, and its remote's, shared by all transfers with that remote.
// What a limit counts is the block messages' bytes (block data plus its bitmap and checksum),
// before TLS and HTTP/2 framing (under 1 % more on the wire).
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

export interface BandwidthLimit {
  /** Remote id; absent: all transfers of the agent together. */
  remote?: string;
  /** Megabits per second. */
  mbit: number;
  /** "HH:MM" local time, with `to`: the limit holds from `from` until `to` (which may be the next day). */
  from?: string;
  to?: string;
}

/** Bytes a bucket lets through at once before waiting: 100 ms of its rate. */
const BURST_SECONDS = 0.1;

/** Minutes since midnight of "HH:MM" (checked by the config schema). */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

function inWindow(limit: BandwidthLimit, at: Date): boolean {
  if (limit.from === undefined || limit.to === undefined) return true;
  const now = at.getHours() * 60 + at.getMinutes();
  const from = minutesOf(limit.from);
  const to = minutesOf(limit.to);
  return from <= to ? now >= from && now < to : now >= from || now < to;
}

/**
 * Bytes per second allowed for `remote` (undefined: the site-wide scope) at `at`, or Infinity.
 * Within a scope a time-windowed limit in force wins over the all-day one; several in force: the lowest.
 */
export function rateAt(limits: readonly BandwidthLimit[], remote: string | undefined, at: Date): number {
  const scope = limits.filter((l) => l.remote === remote && inWindow(l, at));
  const windowed = scope.filter((l) => l.from !== undefined);
  const chosen = windowed.length > 0 ? windowed : scope;
  if (chosen.length === 0) return Infinity;
  return Math.min(...chosen.map((l) => (l.mbit * 1e6) / 8));
}

/** A token bucket whose rate may change over time (`rate()` is asked at each take). */
export class RateBucket {
  /** When the bytes taken so far have all been paid for, at the rates they were taken at (ms). */
  #paidUntil = 0;

  constructor(private readonly rate: () => number) {}

  /** Resolves when `bytes` may go; bytes beyond the burst wait their turn at the current rate. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.rate();
    if (!Number.isFinite(rate)) return;
    const now = performance.now();
    this.#paidUntil = Math.max(this.#paidUntil, now - BURST_SECONDS * 1000) + (bytes / rate) * 1000;
    const wait = this.#paidUntil - now;
    if (wait > 0) await sleep(wait, undefined, { signal });
  }
}

/** The buckets of an agent's limits: one site-wide, one per remote that has a limit. */
export class BandwidthLimits {
  readonly #site: RateBucket | undefined;
  readonly #remotes = new Map<string, RateBucket>();

  constructor(
    limits: readonly BandwidthLimit[],
    private readonly now: () => Date = () => new Date(),
  ) {
    if (limits.some((l) => l.remote === undefined)) this.#site = new RateBucket(() => rateAt(limits, undefined, this.now()));
    for (const remote of new Set(limits.flatMap((l) => (l.remote === undefined ? [] : [l.remote])))) {
      this.#remotes.set(remote, new RateBucket(() => rateAt(limits, remote, this.now())));
    }
  }

  /** What a transfer with `remoteId` takes each block's bytes from; undefined when nothing limits it. */
  forRemote(remoteId: string): ((bytes: number) => Promise<void>) | undefined {
    const buckets = [this.#site, this.#remotes.get(remoteId)].filter((b): b is RateBucket => b !== undefined);
    if (buckets.length === 0) return undefined;
    return async (bytes) => {
      for (const bucket of buckets) await bucket.take(bytes);
    };
  }
}

/** A local time of day, "HH:MM" (24 h). */
const hhmm = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { message: 'a local time of day as HH:MM (24 h), e.g. "08:00"' });

/**
 * A config's `limits`: each a rate in Mbit/s (the field `rate` names) for all transfers together
 * (no `remote`) or for one remote's, all day or from `from` to `to` (local time "HH:MM", may wrap
 * midnight; replaces the all-day limit of its scope while it holds). Parsed into BandwidthLimit.
 */
export function bandwidthSchema(rate: 'uploadMbit' | 'pullMbit', stopHint: string) {
  const shape: Record<string, z.ZodTypeAny> = {
    remote: z.string().min(1).optional(),
    [rate]: z.number().positive({ message: `a rate above 0 Mbit/s (${stopHint})` }).max(1_000_000),
    from: hhmm.optional(),
    to: hhmm.optional(),
  };
  const entry = z
    .object(shape)
    .strict()
    .transform((l) => l as { remote?: string; from?: string; to?: string } & Record<string, unknown>)
    .refine((l) => (l.from === undefined) === (l.to === undefined), { message: 'give both from and to ("HH:MM", local time), or neither for an all-day limit' })
    .refine((l) => l.from === undefined || l.from !== l.to, { message: 'from and to are the same time: an empty window' })
    .transform((l): BandwidthLimit => ({ mbit: l[rate] as number, ...(l.remote === undefined ? {} : { remote: l.remote }), ...(l.from === undefined || l.to === undefined ? {} : { from: l.from, to: l.to }) }));
  return z.object({ limits: z.array(entry).default([]) }).strict().default({ limits: [] });
}
