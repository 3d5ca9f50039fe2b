// Control API: the audit trail (`deltachain audit list`).
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { InvalidInputError } from '../../shared/errors.js';
import * as catalogue from '../catalogue/index.js';
import type { ControlContext } from './control-context.js';

export const MAX_AUDIT_ENTRIES = 1000;

export function auditHandlers(ctx: ControlContext) {
  return {
    async listAudit(request: wire.ListAuditRequest): Promise<wire.ListAuditResponse> {
      const limit = request.limit === 0 ? 100 : request.limit;
      if (limit > MAX_AUDIT_ENTRIES) throw new InvalidInputError(`limit: at most ${MAX_AUDIT_ENTRIES} entries at once; use --since to page back`);
      if (request.who.length > 200) throw new InvalidInputError('who: at most 200 characters');
      const entries = await catalogue.listAudit(ctx.sql, { ...(request.sinceMs > 0 ? { since: new Date(request.sinceMs) } : {}), who: request.who, limit });
      return { entries: entries.map((e) => ({ atMs: e.at.getTime(), who: e.who, method: e.method, arguments: e.arguments, outcome: e.outcome, detail: e.detail })) };
    },
  };
}
