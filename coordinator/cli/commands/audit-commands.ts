// `deltachain audit list`: the control API's audit trail — who called what, when, and whether it
// was served, refused or failed (docs/security.md, "Control API").
import { type Command, InvalidArgumentError } from 'commander';
import type { CliIo } from '../cli-io.js';
import { commandAction, printJson, withConnection } from '../command-action.js';
import { formatTable } from '../format-table.js';
import { humanTime } from '../format-values.js';
import { wholeNumber } from '../parse-arguments.js';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m", "2h", "7d" (that long ago), "2024-06-01" (its start, UTC) or an ISO 8601 instant. */
export function sinceInstant(value: string, now = Date.now()): Date {
  const ago = /^(\d{1,6})([mhd])$/.exec(value);
  if (ago) return new Date(now - Number(ago[1]) * UNIT_MS[ago[2]!]!);
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('expected a time like 30m, 2h, 7d (that long ago), 2024-06-01 (its start, UTC) or 2024-06-01T02:00:00Z');
  return date;
}

export function registerAuditCommands(program: Command, io: CliIo): void {
  const audit = program.command('audit').description("the control API's audit trail");
  withConnection(audit.command('list').description('calls made to the coordinator, newest first: who, when, what, and the outcome'))
    .option('--since <when>', 'only calls since then: 30m, 2h, 7d, 2024-06-01 or an ISO 8601 time', (v) => sinceInstant(v))
    .option('--who <caller>', 'only callers starting with this: operator:alice, viewer, "local socket"')
    .option('--limit <n>', 'at most this many entries (1–1000)', wholeNumber(1, 1000), 100)
    .option('--json', 'print JSON')
    .action(
      commandAction<[], { since?: Date; who?: string; limit: number }>(io, async ({ client, options }) => {
        const { entries } = await client.listAudit({ sinceMs: options.since?.getTime() ?? 0, who: options.who ?? '', limit: options.limit });
        if (options.json) return printJson(io, entries.map((e) => ({ ...e, at: new Date(e.atMs).toISOString() })));
        io.out(
          formatTable(entries, [
            { header: 'AT', value: (e) => humanTime(e.atMs) },
            { header: 'WHO', value: (e) => e.who },
            { header: 'METHOD', value: (e) => e.method },
            { header: 'OUTCOME', value: (e) => e.outcome },
            { header: 'ARGUMENTS', value: (e) => (e.arguments.length > 60 ? `${e.arguments.slice(0, 59)}…` : e.arguments) },
            { header: 'DETAIL', value: (e) => e.detail },
          ]),
        );
      }),
    );
}
