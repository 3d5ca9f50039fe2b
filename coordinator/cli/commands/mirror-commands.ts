// `deltachain mirror create|list|run|delete`: copy a remote's backups to another remote, storage
// agent to storage agent (docs/multi-site.md, "Mirrors").
import type { Command } from 'commander';
import type * as wire from '../../../shared/proto/gen/deltachain/control/v1/control.js';
import type { CliIo } from '../cli-io.js';
import { commandAction, printJson, withConnection } from '../command-action.js';
import { EXIT } from '../exit-codes.js';
import { formatTable } from '../format-table.js';
import { humanTime } from '../format-values.js';
import { collect, wholeNumber } from '../parse-arguments.js';

const MIRROR_HELP = `
A mirror copies the backups of one remote (--from) to another (--to), storage agent to storage
agent: no pool is read. After every backup that lands on the source, the mirror copies it; a copy
whose parent the target already holds moves only that backup's own blocks (a delta), anything else
moves the whole disk of that date once. The target keeps its own retention (--retention) and runs
its own merges. Digests are checked end to end: a copy must restore exactly what the source's
backup restores, or it is not committed.

Seed a far target by hand: copy the source remote's files to it, start its storage agent, run
\`deltachain remote scan TARGET\`; the mirror then moves only what is newer.

Examples:
  deltachain mirror create offsite-copy --from nas --to offsite --retention 30
  deltachain mirror run offsite-copy --wait
  deltachain mirror list
  deltachain backup points --vm UUID      where each restore point exists
`;

function printMirrors(io: CliIo, mirrors: readonly wire.MirrorInfo[]): void {
  io.out(
    formatTable(mirrors, [
      { header: 'NAME', value: (m) => m.name },
      { header: 'FROM', value: (m) => m.sourceRemote },
      { header: 'TO', value: (m) => m.targetRemote },
      { header: 'VMS', value: (m) => (m.vmUuids.length === 0 ? `all (${m.vms})` : `${m.vms} of ${m.vmUuids.length}`) },
      { header: 'KEEP', value: (m) => m.retention, right: true },
      { header: 'BEHIND', value: (m) => m.behind, right: true },
      { header: 'COPYING', value: (m) => m.copying, right: true },
      { header: 'NEWEST COPY', value: (m) => humanTime(m.lastCopyAtMs) },
    ]),
  );
}

function registerCreate(mirror: Command, io: CliIo): void {
  withConnection(mirror.command('create <name>').description('copy one remote\'s backups to another'))
    .requiredOption('--from <remote>', 'the remote whose backups are copied')
    .requiredOption('--to <remote>', 'the remote that receives the copies')
    .requiredOption('--retention <n>', 'backups kept per VM on the target', wholeNumber(1, 10000))
    .option('--vm <uuid>', 'copy only this VM; repeat for several (default: every VM with backups on the source)', collect)
    .option('--no-start', 'do not copy what the source already holds now (only backups made from now on)')
    .option('--json', 'print JSON')
    .action(
      commandAction<[string], { from: string; to: string; retention: number; vm?: string[]; start: boolean; json?: boolean }>(io, async ({ client, options }, name) => {
        const { mirror: created, taskIds } = await client.createMirror({ name, sourceRemote: options.from, targetRemote: options.to, vmUuids: options.vm ?? [], retention: options.retention, start: options.start });
        if (options.json) return printJson(io, { mirror: created, taskIds });
        io.out(`created mirror ${name}: ${options.from} → ${options.to}, keeps ${options.retention} per VM\n`);
        io.out(taskIds.length > 0 ? `copying now: ${taskIds.length} VM${taskIds.length === 1 ? '' : 's'} (follow with \`deltachain mirror list\`)\n` : 'nothing to copy yet\n');
      }),
    );
}

function registerList(mirror: Command, io: CliIo): void {
  withConnection(mirror.command('list').description('list mirrors, with how many restore points each target still lacks'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[], { json?: boolean }>(io, async ({ client, options }) => {
        const { mirrors } = await client.listMirrors();
        if (options.json) return printJson(io, mirrors);
        if (mirrors.length === 0) io.out('no mirrors; create one with `deltachain mirror create NAME --from REMOTE --to REMOTE --retention N`\n');
        else printMirrors(io, mirrors);
      }),
    );
}

function registerRun(mirror: Command, io: CliIo): void {
  withConnection(mirror.command('run <name>').description('copy now what the target lacks (one copy per VM at a time, oldest first)'))
    .option('--wait', 'wait until no copy is queued or running, printing progress; fails when the target is still behind')
    .option('--json', 'print JSON')
    .action(
      commandAction<[string], { wait?: boolean; json?: boolean }>(io, async ({ client, options }, name) => {
        const started = await client.runMirror({ name });
        if (!options.wait) {
          if (options.json) return printJson(io, started);
          io.out(`mirror ${name}: ${started.taskIds.length} copies queued, ${started.alreadyCopying} already copying, ${started.upToDate} VMs up to date\n`);
          return EXIT.OK;
        }
        const last = await waitForMirror(client, name, (m) => options.json || io.out(`mirror ${name}: ${m.behind} behind, ${m.copying} copying\n`));
        if (options.json) printJson(io, last);
        else if (last.behind === 0) io.out(`mirror ${name}: up to date\n`);
        else io.err(`deltachain: mirror ${name} stopped ${last.behind} restore points behind: a copy failed; see \`deltachain run list\` and the storage agent of ${last.targetRemote}\n`);
        return last.behind === 0 ? EXIT.OK : EXIT.FAILED;
      }),
    );
}

/** Polls the mirror until no copy is queued or running; reports each change. */
async function waitForMirror(client: { listMirrors(): Promise<wire.ListMirrorsResponse> }, name: string, report: (m: wire.MirrorInfo) => unknown): Promise<wire.MirrorInfo> {
  let shown = '';
  for (;;) {
    const found = (await client.listMirrors()).mirrors.find((m) => m.name === name);
    if (!found) throw new Error(`mirror ${name} was deleted while waiting`);
    const state = `${found.behind}/${found.copying}`;
    if (state !== shown) report(found);
    shown = state;
    if (found.copying === 0) return found;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function registerDelete(mirror: Command, io: CliIo): void {
  withConnection(mirror.command('delete <name>').description('stop mirroring (the copies stay on the target, as backups of their own)'))
    .action(
      commandAction<[string], object>(io, async ({ client }, name) => {
        await client.deleteMirror({ name });
        io.out(`deleted mirror ${name}; its copies stay on the target\n`);
      }),
    );
}

export function registerMirrorCommands(program: Command, io: CliIo): void {
  const mirror = program.command('mirror').description('copy backups from one remote to another, storage agent to storage agent').addHelpText('after', MIRROR_HELP);
  registerCreate(mirror, io);
  registerList(mirror, io);
  registerRun(mirror, io);
  registerDelete(mirror, io);
}
