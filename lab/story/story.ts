// The seed's story, played on a running lab stack: a policy (retention 3, full interval 0); a
// first full; each day the guests write; each night a delta of what they wrote; from the
// fourth night on, the storage agent merges the oldest delta into the full so that three dates
// remain; then a VM restored as it was on an older night, checked by digest. Every claim the
// story makes is a check; the outcome says whether all held.
import { applyGuestWrites, planGuestWrites } from './guest-writes.js';
import type { LabStack } from './lab-stack.js';
import type { Check } from './story-checks.js';
import { playNight, type NightContext, type NightRecord, type StoryVm } from './story-night.js';
import type { StoryReporter } from './story-reporter.js';
import { restoreOlderNight, type RestoredVm } from './story-restore.js';
import { snapshotDataLine } from './snapshot-data-line.js';
import { humanSize } from '../../shared/human-units.js';

export interface StoryOptions {
  pool: string;
  remote: string;
  policy: string;
  /** Names of the pool's VMs the policy backs up. */
  vmNames: string[];
  nights: number;
  retention: number;
  /** The night whose backup is restored (must still be retained). */
  restoreNight: number;
  /** SR (by name) the restored VM's disks go to. */
  restoreSr: string;
  seed: number;
}

export interface StoryOutcome {
  checks: Check[];
  passed: boolean;
  vms: StoryVm[];
  nights: NightRecord[];
  restored: RestoredVm | undefined;
}

export async function playStory(stack: LabStack, reporter: StoryReporter, options: StoryOptions): Promise<StoryOutcome> {
  const checks: Check[] = [];
  const check = (c: Check): void => {
    checks.push(c);
    reporter.check(c);
  };
  const vms = await findVms(stack, options);
  const ctx: NightContext = { stack, reporter, pool: options.pool, remote: options.remote, policy: options.policy, retention: options.retention, vms, check };
  await createPolicy(ctx, options);
  const nights: NightRecord[] = [];
  for (let night = 1; night <= options.nights; night++) {
    const changed = night === 1 ? new Map<string, number>() : await guestsWrite(ctx, night - 1, options.seed);
    reporter.chapter(nightTitle(night, options.retention), nightWhy(night, options.retention));
    nights.push(await playNight(ctx, night, changed));
    ctx.reporter.line(snapshotDataLine(await ctx.stack.pools.get(options.pool)!.admin.state()));
  }
  reporter.chapter(`Restore ${vms[0]!.name} as it was on night ${options.restoreNight}`, `an older date than the newest backup, to a new VM on SR "${options.restoreSr}"; its disks must equal what the pool held that night`);
  const restored = await restoreOlderNight(stack, reporter, check, { pool: options.pool, remote: options.remote, srName: options.restoreSr, vm: vms[0]!, night: nights[options.restoreNight - 1]! });
  // The restored VM shows in `vm list` once the host agent reports it.
  await stack.awaitInventory();
  return { checks, passed: checks.every((c) => c.ok), vms, nights, restored };
}

async function findVms(stack: LabStack, options: StoryOptions): Promise<StoryVm[]> {
  const state = await stack.pools.get(options.pool)!.admin.state();
  return options.vmNames.map((name) => {
    const vm = state.vms.find((v) => v.name === name && !v.isSnapshot);
    if (vm === undefined) throw new Error(`the lab pool ${options.pool} has no VM named ${name}`);
    const disks = [...vm.disks].sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
    return { uuid: vm.uuid, name, vdis: disks.map((d) => d.vdi), sizes: disks.map((d) => d.virtualSize) };
  });
}

async function createPolicy(ctx: NightContext, options: StoryOptions): Promise<void> {
  ctx.reporter.chapter(
    `A policy: back up ${ctx.vms.map((v) => v.name).join(' and ')} to remote ${options.remote} every night`,
    `retention ${options.retention} keeps the ${options.retention} newest dates; full interval 0 means never another full — incremental forever`,
  );
  for (const vm of ctx.vms) ctx.reporter.line(`${vm.name.padEnd(8)} ${vm.uuid}  ${vm.sizes.length} disk${vm.sizes.length === 1 ? '' : 's'}: ${vm.sizes.map(humanSize).join(' + ')}`);
  const vmFlags = ctx.vms.map((v) => `--vm ${v.uuid}`).join(' ');
  ctx.reporter.command(`deltachain policy create ${options.policy} ${vmFlags} --remote ${options.remote} --schedule "0 3 * * *" --retention ${options.retention} --full-interval 0`);
  await ctx.stack.control.createPolicy({
    settings: {
      name: options.policy,
      selection: { vmUuids: ctx.vms.map((v) => v.uuid), tags: [], pools: [] },
      remotes: [options.remote],
      cron: '0 3 * * *',
      timeZone: 'UTC',
      retention: options.retention,
      fullInterval: 0,
      concurrency: 2,
      enabled: true,
    },
  });
  ctx.reporter.line('(the schedule would fire at 03:00; the story runs each night now, as `policy run` does)');
}

async function guestsWrite(ctx: NightContext, day: number, seed: number): Promise<Map<string, number>> {
  ctx.reporter.chapter(`Day ${day} — the guests write`, 'whole 2 MiB runs rewritten, so the next delta should carry about that many blocks');
  const admin = ctx.stack.pools.get(ctx.pool)!.admin;
  const changed = new Map<string, number>();
  for (const [i, vm] of ctx.vms.entries()) {
    const done = await applyGuestWrites(admin, vm.vdis, planGuestWrites(day, i, vm.vdis.length, seed));
    changed.set(vm.uuid, done.reduce((sum, w) => sum + w.blocks, 0));
    for (const w of done) ctx.reporter.line(`${vm.name.padEnd(8)} disk ${w.disk}: ${w.percent} % rewritten → ${w.blocks} block${w.blocks === 1 ? '' : 's'} (${humanSize(w.bytes)}) changed`);
  }
  return changed;
}

function nightTitle(night: number, retention: number): string {
  if (night === 1) return 'Night 1 — the first backup is a full';
  if (night <= retention) return `Night ${night} — a delta`;
  return `Night ${night} — a delta, then a merge`;
}

function nightWhy(night: number, retention: number): string {
  if (night === 1) return 'no chain on the remote yet: the allocated parts of every disk are read over NBD; CBT is switched on, and the snapshot stays as the reference for the next delta, its data purged (only its CBT metadata is kept on the SR)';
  if (night <= retention) return 'only the 64 KiB extents CBT marks as changed since the reference are read over NBD and sent; the new snapshot becomes the reference, its data purged';
  return `${night} dates exceed retention ${retention}: the storage agent merges the oldest delta into the full, near the data — no new full is ever taken`;
}
