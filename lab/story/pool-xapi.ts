// An operator's XAPI session on a pool, through the same `xen-api` client the host agent uses:
// the lab needs it for what its admin endpoints do not show (SR uuids to restore to) and the
// end-to-end tests for what an administrator does behind the backup tool's back (destroy a VM
// and its SR).
import { createClient, type Xapi } from 'xen-api';

export class PoolXapi {
  private constructor(private readonly client: Xapi) {}

  static async connect(pool: { url: string; user: string; password: string }): Promise<PoolXapi> {
    const client = createClient({ url: pool.url, auth: { user: pool.user, password: pool.password }, watchEvents: false, allowUnauthorized: true });
    await client.connect();
    return new PoolXapi(client);
  }

  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return this.client.call<T>(method, ...args);
  }

  async records(cls: string): Promise<Record<string, Record<string, unknown>>> {
    return this.call<Record<string, Record<string, unknown>>>(`${cls}.get_all_records`);
  }

  /** The uuid of the SR named `name`. */
  async srUuid(name: string): Promise<string> {
    const match = Object.values(await this.records('SR')).find((sr) => sr['name_label'] === name);
    if (match === undefined) throw new Error(`the pool has no SR named ${JSON.stringify(name)}`);
    return String(match['uuid']);
  }

  async close(): Promise<void> {
    await this.client.disconnect().catch(() => undefined);
  }
}
