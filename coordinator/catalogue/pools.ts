// The pools table: each pool of hosts is served by its own host agents, addressed by name.
import type { Queryable } from './connect-catalogue.js';
import { classifyCatalogueError, NotFoundError } from './catalogue-errors.js';

export interface PoolInput {
  name: string;
  site?: string;
  description?: string;
}

export interface Pool {
  name: string;
  site: string;
  description: string;
  createdAt: Date;
  /** VMs last reported in this pool. */
  vmCount: number;
  /** Host agents that ever announced themselves for this pool. */
  agentCount: number;
}

export async function addPool(db: Queryable, input: PoolInput): Promise<void> {
  try {
    await db`insert into pools (name, site, description)
             values (${input.name}, ${input.site ?? ''}, ${input.description ?? ''})`;
  } catch (error) {
    throw classifyCatalogueError(error, `adding pool ${input.name}`);
  }
}

export async function listPools(db: Queryable): Promise<Pool[]> {
  return db<Pool[]>`
    select p.name, p.site, p.description, p.created_at,
           (select count(*) from vms v where v.pool_name = p.name and v.gone_at is null) as vm_count,
           (select count(*) from agents a where a.role = 'host' and a.pool_name = p.name) as agent_count
    from pools p order by p.name`;
}

export async function getPool(db: Queryable, name: string): Promise<Pool> {
  const [pool] = await db<Pool[]>`
    select p.name, p.site, p.description, p.created_at,
           (select count(*) from vms v where v.pool_name = p.name and v.gone_at is null) as vm_count,
           (select count(*) from agents a where a.role = 'host' and a.pool_name = p.name) as agent_count
    from pools p where p.name = ${name}`;
  if (!pool) throw new NotFoundError(`no pool named ${name}; see \`deltachain pool list\` or add it with \`deltachain pool add ${name}\``);
  return pool;
}

/** Those of `names` that are registered pools. */
export async function knownPoolNames(db: Queryable, names: readonly string[]): Promise<string[]> {
  const rows = await db<{ name: string }[]>`select name from pools where name = any(${names as string[]}::text[])`;
  return rows.map((p) => p.name);
}
