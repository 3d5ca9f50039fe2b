// One active coordinator among several (docs/multi-site.md, "Coordinators"). Every coordinator
// serves the control API; only the one holding the lease in the catalogue (catalogue/
// coordinator-lease.ts) consumes events, dispatches and schedules. Each coordinator tries to take
// or renew the lease every third of its length:
//   - taken (a new term): it becomes active — `onElected(term)` starts the active services;
//   - renewed: it stays active until the start of that renewal plus the lease's length (a local,
//     monotonic deadline that ends before the database's expiry, so it stops before another can
//     start);
//   - held by another, or not renewed by the deadline (the catalogue unreachable): it is deposed —
//     `onDeposed` stops the active services — and goes on trying, as a standby; an answer that
//     came after the lease's length is not acted on, and the lease the row still names this
//     coordinator for is taken again at the next try, at a new term (not left to expire);
// A clean stop deposes itself and ends the lease at once, so a standby takes over without waiting
// for the expiry. What a deposed coordinator still publishes is fenced twice: its catalogue writes
// check the term (fenceTerm), and agents refuse tasks of a term older than one they have seen.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../shared/logging/index.js';
import { leaveLease, takeLease, type Catalogue } from '../catalogue/index.js';

export interface LeadershipOptions {
  sql: Catalogue;
  /** This process's name in the lease (unique per process). */
  holder: string;
  leaseSeconds: number;
  logger: Logger;
  onElected: (term: number) => Promise<void>;
  onDeposed: (term: number, reason: string) => Promise<void>;
}

export type LeadershipView = { active: true; term: number } | { active: false; holder?: string; term?: number; expiresAt?: Date };

export class Leadership {
  #term: number | undefined;
  #heldUntil = 0;
  #view: LeadershipView = { active: false };
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  /** Transitions (elected, deposed) run one after another. */
  #transitions: Promise<void> = Promise.resolve();
  #round: Promise<void> | undefined;

  constructor(private readonly options: LeadershipOptions) {}

  get view(): LeadershipView {
    return this.#view;
  }

  /** The term while active. */
  get term(): number | undefined {
    return this.#term;
  }

  /** Tries to take the lease now (waits for that try and, when taken, for the active services to start), then keeps trying. */
  async start(): Promise<void> {
    await this.#tryOnce();
    await this.#transitions;
    this.#schedule();
    this.#watchdog = setInterval(() => this.#checkDeadline(), 500);
    this.#watchdog.unref();
  }

  /**
   * Something active found `term` lost (a fenced write refused): step down now — unless this
   * coordinator already holds a newer term (a service of the old term, still stopping, found out late).
   */
  lost(term: number, reason: string): void {
    if (this.#term === term) this.#depose(term, reason);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    await this.#round;
    const term = this.#term;
    if (term !== undefined) {
      this.#depose(term, 'this coordinator is stopping');
      await this.#transitions;
      const left = await leaveLease(this.options.sql, this.options.holder, term).catch(() => false);
      if (left) this.options.logger.info({ term }, 'coordinator lease given up: a standby may take over at once');
    }
    await this.#transitions;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const every = Math.max(200, (this.options.leaseSeconds * 1000) / 3);
    this.#timer = setTimeout(() => {
      this.#round = this.#tryOnce().finally(() => {
        this.#round = undefined;
        this.#schedule();
      });
    }, every);
  }

  #checkDeadline(): void {
    const term = this.#term;
    if (term !== undefined && performance.now() > this.#heldUntil) {
      this.#depose(term, `the lease could not be renewed within ${this.options.leaseSeconds} s (is the catalogue reachable?)`);
    }
  }

  async #tryOnce(): Promise<void> {
    const { sql, holder, leaseSeconds, logger } = this.options;
    const started = performance.now();
    let attempt;
    try {
      attempt = await takeLease(sql, holder, leaseSeconds, this.#term);
    } catch (error) {
      logger.warn({ err: error, term: this.#term }, 'the coordinator lease could not be taken or renewed');
      this.#checkDeadline();
      return;
    }
    if (this.#stopped) return;
    if (attempt.held && performance.now() >= started + leaseSeconds * 1000) {
      // The answer took longer than the lease (the catalogue's link stalled): the lease may have
      // expired before it arrived, so it is not acted on. The next round takes a new term at once
      // (the row names this holder: takeLease).
      logger.warn({ term: attempt.term, answeredAfterMs: Math.round(performance.now() - started) }, 'the catalogue answered the lease too late to act on; taking it again');
      if (this.#term !== undefined) this.#depose(this.#term, `the catalogue took longer than the lease (${leaseSeconds} s) to renew it`);
      return;
    }
    if (attempt.held) {
      this.#heldUntil = started + leaseSeconds * 1000;
      if (this.#term === attempt.term) return;
      if (this.#term !== undefined) this.#depose(this.#term, `the lease was taken again at a new term ${attempt.term}`);
      this.#elect(attempt.term);
      return;
    }
    const wasActive = this.#term;
    if (wasActive !== undefined) this.#depose(wasActive, `coordinator ${attempt.holder} holds the lease (term ${attempt.term})`);
    const before = this.#view;
    this.#view = { active: false, holder: attempt.holder, term: attempt.term, expiresAt: attempt.expiresAt };
    if (before.active || before.holder !== attempt.holder || before.term !== attempt.term) {
      logger.info({ activeCoordinator: attempt.holder, term: attempt.term, until: attempt.expiresAt }, 'standby: another coordinator is active');
    }
  }

  #elect(term: number): void {
    this.#term = term;
    this.#view = { active: true, term };
    this.options.logger.info({ term, holder: this.options.holder }, 'this coordinator is now the active one');
    this.#transitions = this.#transitions.then(() =>
      this.options.onElected(term).catch((error: unknown) => {
        this.options.logger.error({ err: error, term }, 'the active services did not start: stepping down');
        this.#depose(term, 'the active services did not start');
      }),
    );
  }

  #depose(term: number, reason: string): void {
    if (this.#term !== term) return;
    this.#term = undefined;
    this.#heldUntil = 0;
    this.#view = { active: false };
    this.options.logger.warn({ term, reason }, 'this coordinator is no longer the active one');
    this.#transitions = this.#transitions.then(() => this.options.onDeposed(term, reason).catch((error: unknown) => this.options.logger.error({ err: error, term }, 'stopping the active services failed')));
  }
}
