// The NATS users of an installation and their seed files: the coordinator, and one agent per
// pool and remote unless others are named. A folder holds one seed file per user, named after
// it (`coordinator.nk`, `<role>.<scope>.<agent>.nk`), readable by its owner only. A seed that
// exists is kept, so running this again after a pool is added makes the new pool's seed and
// leaves every other credential as it was; to rotate one, delete its file and run again.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsUser } from './nats-authorization.js';
import type { EventSender } from './names.js';
import { createUserKey, readSeedFile, writeSeedFile } from './nkey-seed.js';

export interface Registered {
  pools: readonly string[];
  remotes: readonly string[];
  /** Agents named by the operator; a pool or remote with none gets `host-<pool>` / `storage-<remote>`. */
  agents?: readonly EventSender[];
}

/** The agents to give a user, each pool and remote covered (sorted, without repeats). */
export function agentsOf(registered: Registered): EventSender[] {
  const named = registered.agents ?? [];
  const has = (role: EventSender['role'], scope: string) => named.some((a) => a.role === role && a.scope === scope);
  const all = [
    ...named,
    ...registered.pools.filter((p) => !has('host', p)).map((scope): EventSender => ({ role: 'host', scope, agent: `host-${scope}` })),
    ...registered.remotes.filter((r) => !has('storage', r)).map((scope): EventSender => ({ role: 'storage', scope, agent: `storage-${scope}` })),
  ];
  const key = (a: EventSender) => `${a.role}.${a.scope}.${a.agent}`;
  return [...new Map(all.map((a) => [key(a), a])).values()].sort((a, b) => key(a).localeCompare(key(b)));
}

export function seedFileName(who: 'coordinator' | EventSender): string {
  return who === 'coordinator' ? 'coordinator.nk' : `${who.role}.${who.scope}.${who.agent}.nk`;
}

export interface SeedFile {
  user: NatsUser;
  path: string;
  /** False when the file was there already (kept as it was). */
  created: boolean;
}

async function seedIn(folder: string, who: 'coordinator' | EventSender): Promise<SeedFile> {
  const path = join(folder, seedFileName(who));
  let created = false;
  const key = await readSeedFile(path).catch(async (error: unknown) => {
    if ((error as { cause?: { code?: string } }).cause?.code !== 'ENOENT') throw error;
    const fresh = createUserKey();
    await writeSeedFile(path, fresh);
    created = true;
    return fresh;
  });
  const user: NatsUser = who === 'coordinator' ? { role: 'coordinator', publicKey: key.publicKey } : { role: 'agent', sender: who, publicKey: key.publicKey };
  return { user, path, created };
}

/** The coordinator's and each agent's seed file in `folder` (made when missing). */
export async function ensureSeedFiles(folder: string, agents: readonly EventSender[]): Promise<SeedFile[]> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const files = [await seedIn(folder, 'coordinator')];
  for (const agent of agents) files.push(await seedIn(folder, agent));
  return files;
}
