// The coordinators' lease (migration 0012): one row, taken by one coordinator at a time. Every
// time is the database's clock (now()), so coordinators on machines whose clocks disagree still
// agree on who holds it. The term is the fencing token: it grows whenever the lease is taken by a
// coordinator that did not hold it live, and never otherwise. A new term is the database's time in
// milliseconds (or the last term + 1, if larger), so terms keep growing across catalogues too: a
// catalogue rebuilt into a new database (remote scan) starts above the terms agents took from the
// lost one, and they do not refuse its tasks.
//   takeLease   take the lease if it is free or expired, or renew it if we hold it at our term;
//               a holder the row names at a term it no longer holds (it deposed itself when a
//               renewal came too late) takes a new term at once: a holder names one process
//   fenceTerm   inside a transaction: stop unless our term still holds the lease (the row is
//               share-locked, so a takeover waits for the transaction, and the transaction sees
//               a takeover that committed first)
//   leaveLease  let the lease go at once (a clean stop): the next coordinator need not wait
import type { Queryable } from './connect-catalogue.js';
import { CatalogueError } from './catalogue-errors.js';

export interface LeaseState {
  holder: string;
  term: number;
  acquiredAt: Date;
  renewedAt: Date;
  expiresAt: Date;
  /** The database's clock when this was read. */
  now: Date;
}

export type LeaseAttempt = { held: true; term: number; expiresAt: Date } | { held: false; holder: string; term: number; expiresAt: Date };

/** This coordinator's term no longer holds the lease: it must stop acting as the active one. */
export class LeaseLostError extends CatalogueError {
  override name = 'LeaseLostError';
  constructor(
    /** The term that lost the lease. */
    readonly term: number,
    message?: string,
  ) {
    super('LEASE_LOST', message ?? `this coordinator's lease (term ${term}) is no longer held: another coordinator took over, or the lease expired`);
  }
}

/**
 * Takes or renews the lease for `holder` for `seconds`. `term` is the term this process holds
 * (undefined when it holds none): the lease is renewed at that term only when the row still names
 * this holder at that term and has not expired; anything else is a new term. `holder` names one
 * process (coordinator/service/leadership.ts makes it unique), so a row naming it at another term
 * is this process's own, stepped down from: it is taken again at once, at a new term, rather than
 * left to expire with no coordinator active.
 */
export async function takeLease(db: Queryable, holder: string, seconds: number, term: number | undefined): Promise<LeaseAttempt> {
  const held = term ?? 0;
  const [row] = await db<{ holder: string; term: number; expiresAt: Date }[]>`
    insert into coordinator_lease as l (id, holder, term, acquired_at, renewed_at, expires_at)
    values (1, ${holder}, (extract(epoch from now()) * 1000)::bigint, now(), now(), now() + make_interval(secs => ${seconds}))
    on conflict (id) do update set
      holder = excluded.holder,
      term = case when l.holder = excluded.holder and l.term = ${held} and l.expires_at > now() then l.term else greatest(l.term + 1, excluded.term) end,
      acquired_at = case when l.holder = excluded.holder and l.term = ${held} and l.expires_at > now() then l.acquired_at else now() end,
      renewed_at = now(),
      expires_at = excluded.expires_at
    where l.expires_at <= now() or l.holder = excluded.holder
    returning holder, term, expires_at`;
  if (row) return { held: true, term: row.term, expiresAt: row.expiresAt };
  const current = await readLease(db);
  if (!current) throw new CatalogueError('LEASE_MISSING', 'the coordinator lease row vanished while it was being taken');
  return { held: false, holder: current.holder, term: current.term, expiresAt: current.expiresAt };
}

export async function readLease(db: Queryable): Promise<LeaseState | undefined> {
  const [row] = await db<LeaseState[]>`select holder, term, acquired_at, renewed_at, expires_at, now() as now from coordinator_lease where id = 1`;
  return row;
}

/** Throws LeaseLostError unless `term` holds an unexpired lease; call inside the transaction it guards. */
export async function fenceTerm(tx: Queryable, term: number): Promise<void> {
  const [row] = await tx<{ term: number }[]>`select term from coordinator_lease where id = 1 and term = ${term} and expires_at > now() for share`;
  if (!row) throw new LeaseLostError(term);
}

/** Ends the lease now if `holder` holds it at `term` (the term stays: the next holder takes term + 1). */
export async function leaveLease(db: Queryable, holder: string, term: number): Promise<boolean> {
  const rows = await db`update coordinator_lease set expires_at = now() where id = 1 and holder = ${holder} and term = ${term} and expires_at > now() returning term`;
  return rows.length > 0;
}
