// The policies table and its remotes. A policy row holds the selection as three arrays and the
// remotes in policy_remotes (a foreign key: a policy cannot name a remote nobody registered).
import type { Policy, PolicySettings } from '../policy/index.js';
import type { Catalogue, Queryable } from './connect-catalogue.js';
import { classifyCatalogueError, NotFoundError } from './catalogue-errors.js';

interface PolicyRow {
  id: string;
  name: string;
  vmUuids: string[];
  vmTags: string[];
  poolNames: string[];
  schedule: string;
  timeZone: string;
  retention: number;
  fullInterval: number;
  concurrency: number;
  purgeSnapshotData: boolean;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  remotes: string[];
}

function toPolicy(row: PolicyRow): Policy {
  return {
    id: row.id,
    name: row.name,
    selection: { vmUuids: row.vmUuids, tags: row.vmTags, pools: row.poolNames },
    remotes: row.remotes,
    schedule: { cron: row.schedule, timeZone: row.timeZone },
    retention: row.retention,
    fullInterval: row.fullInterval,
    concurrency: row.concurrency,
    purgeSnapshotData: row.purgeSnapshotData,
    enabled: row.enabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export async function insertPolicy(db: Catalogue, id: string, settings: PolicySettings, now: Date): Promise<Policy> {
  try {
    await db.begin(async (tx) => {
      await tx`
        insert into policies (id, name, vm_uuids, vm_tags, pool_names, schedule, time_zone, retention,
                              full_interval, concurrency, purge_snapshot_data, enabled, created_at, updated_at)
        values (${id}, ${settings.name}, ${settings.selection.vmUuids}::uuid[], ${settings.selection.tags},
                ${settings.selection.pools}, ${settings.schedule.cron}, ${settings.schedule.timeZone},
                ${settings.retention}, ${settings.fullInterval}, ${settings.concurrency}, ${settings.purgeSnapshotData}, ${settings.enabled},
                ${now}, ${now})`;
      await tx`insert into policy_remotes (policy_id, remote_name) select ${id}, unnest(${settings.remotes}::text[])`;
    });
  } catch (error) {
    throw classifyPolicyError(error, `creating policy ${settings.name}`, settings.remotes);
  }
  return getPolicy(db, id);
}

export async function updatePolicy(db: Catalogue, id: string, settings: PolicySettings, now: Date): Promise<Policy> {
  try {
    await db.begin(async (tx) => {
      const updated = await tx`
        update policies set name = ${settings.name}, vm_uuids = ${settings.selection.vmUuids}::uuid[],
          vm_tags = ${settings.selection.tags}, pool_names = ${settings.selection.pools},
          schedule = ${settings.schedule.cron}, time_zone = ${settings.schedule.timeZone},
          retention = ${settings.retention}, full_interval = ${settings.fullInterval},
          concurrency = ${settings.concurrency}, purge_snapshot_data = ${settings.purgeSnapshotData}, enabled = ${settings.enabled}, updated_at = ${now}
        where id = ${id}`;
      if (updated.count === 0) throw new NotFoundError(`no policy with id ${id}`);
      await tx`delete from policy_remotes where policy_id = ${id} and remote_name <> all(${settings.remotes}::text[])`;
      await tx`insert into policy_remotes (policy_id, remote_name) select ${id}, unnest(${settings.remotes}::text[])
               on conflict do nothing`;
    });
  } catch (error) {
    throw classifyPolicyError(error, `updating policy ${settings.name}`, settings.remotes);
  }
  return getPolicy(db, id);
}

function classifyPolicyError(error: unknown, what: string, remotes: string[]): Error {
  const pg = error as { code?: string; constraint_name?: string };
  if (pg.code === '23503' && pg.constraint_name === 'policy_remotes_remote_name_fkey') {
    return new NotFoundError(`${what}: a remote among ${remotes.join(', ')} is not registered; add it with \`deltachain remote add NAME\``, { cause: error });
  }
  if (pg.code === '23505' && pg.constraint_name === 'policies_name_key') {
    return classifyCatalogueError(error, `${what}: a policy with that name exists`);
  }
  return classifyCatalogueError(error, what);
}

const selectPolicies = (db: Queryable) => db`
  select p.*, coalesce(array_agg(pr.remote_name::text order by pr.remote_name) filter (where pr.remote_name is not null), '{}') as remotes
  from policies p left join policy_remotes pr on pr.policy_id = p.id`;

export async function getPolicy(db: Queryable, id: string): Promise<Policy> {
  const [row] = await db<PolicyRow[]>`${selectPolicies(db)} where p.id = ${id} group by p.id`;
  if (!row) throw new NotFoundError(`no policy with id ${id}`);
  return toPolicy(row);
}

export async function getPolicyByName(db: Queryable, name: string): Promise<Policy> {
  const [row] = await db<PolicyRow[]>`${selectPolicies(db)} where p.name = ${name} group by p.id`;
  if (!row) throw new NotFoundError(`no policy named ${name}; see \`deltachain policy list\``);
  return toPolicy(row);
}

export async function listPolicies(db: Queryable, options: { enabledOnly?: boolean } = {}): Promise<Policy[]> {
  const rows = options.enabledOnly
    ? await db<PolicyRow[]>`${selectPolicies(db)} where p.enabled group by p.id order by p.name`
    : await db<PolicyRow[]>`${selectPolicies(db)} group by p.id order by p.name`;
  return rows.map(toPolicy);
}

export async function setPolicyEnabled(db: Queryable, name: string, enabled: boolean, now: Date): Promise<void> {
  const updated = await db`update policies set enabled = ${enabled}, updated_at = ${now} where name = ${name}`;
  if (updated.count === 0) throw new NotFoundError(`no policy named ${name}; see \`deltachain policy list\``);
}

/** Deletes a policy. Its runs and backups stay, detached; its reference snapshots are forgotten. */
export async function deletePolicy(db: Queryable, name: string): Promise<void> {
  const deleted = await db`delete from policies where name = ${name}`;
  if (deleted.count === 0) throw new NotFoundError(`no policy named ${name}; see \`deltachain policy list\``);
}
