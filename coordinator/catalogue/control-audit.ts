// The control API's audit trail (migration 0009): one row per call, refused ones too.
import type { Queryable } from './connect-catalogue.js';

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  at: Date;
  /** The caller as the transport proved it ("operator:alice", "local socket", …). */
  who: string;
  /** The RPC, e.g. "AddPool". */
  method: string;
  /** A bounded summary of the request (control-audit-summary in coordinator/api). */
  arguments: string;
  outcome: AuditOutcome;
  /** Why it was refused or failed; '' when ok. */
  detail: string;
}

export interface AuditFilter {
  since?: Date;
  /** Callers whose text starts with this. */
  who?: string;
  limit: number;
}

export async function recordAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db`insert into control_audit (at, who, method, arguments, outcome, detail)
           values (${entry.at}, ${entry.who.slice(0, 200)}, ${entry.method}, ${entry.arguments.slice(0, 4096)}, ${entry.outcome}, ${entry.detail.slice(0, 2048)})`;
}

export async function listAudit(db: Queryable, filter: AuditFilter): Promise<AuditEntry[]> {
  const whoPattern = filter.who === undefined || filter.who === '' ? null : `${filter.who.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return db<AuditEntry[]>`
    select at, who, method, arguments, outcome, detail from control_audit
    where (${filter.since ?? null}::timestamptz is null or at >= ${filter.since ?? null})
      and (${whoPattern}::text is null or who like ${whoPattern})
    order by at desc, id desc limit ${filter.limit}`;
}
