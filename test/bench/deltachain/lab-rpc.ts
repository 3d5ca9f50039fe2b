// A minimal XAPI JSON-RPC and admin client for the harness's own calls to the lab pool: the SR to
// restore onto, removing a restored VM and its disks, disk digests and guest writes (with the
// `content` option the admin client does not know yet). The agents use the real xen-api client.
import type { DiskContent } from './types.js';

export class LabRpc {
  private session: string | undefined;
  private readonly authorization: string;

  constructor(
    private readonly url: string,
    private readonly user: string,
    private readonly password: string,
  ) {
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  async call<T>(method: string, ...params: unknown[]): Promise<T> {
    this.session ??= await this.raw<string>('session.login_with_password', [this.user, this.password, '1.0', 'deltachain-bench']);
    return this.raw<T>(method, [this.session, ...params]);
  }

  async firstSrUuid(): Promise<string> {
    const srs = await this.call<Record<string, { uuid: string; content_type?: string }>>('SR.get_all_records');
    const sr = Object.values(srs).find((s) => s.content_type !== 'iso');
    if (sr === undefined) throw new Error('the lab pool has no SR to restore onto');
    return sr.uuid;
  }

  /** Destroys a (halted) VM and the given VDIs; used after a restore is checked. */
  async destroyVm(vmUuid: string, vdiUuids: readonly string[]): Promise<void> {
    const vm = await this.call<string>('VM.get_by_uuid', vmUuid);
    if ((await this.call<string>('VM.get_power_state', vm)) !== 'Halted') await this.call('VM.hard_shutdown', vm);
    await this.call('VM.destroy', vm);
    for (const uuid of vdiUuids) await this.call('VDI.destroy', await this.call<string>('VDI.get_by_uuid', uuid));
  }

  async digest(vdiUuid: string): Promise<string> {
    return (await this.admin<{ sha256: string }>('GET', '/lab/digest', { vdi: vdiUuid })).sha256;
  }

  write(o: { vdi: string; pattern: string; percent: number; seed: number; content?: DiskContent }): Promise<{ bytes: number; blocks: number }> {
    const query: Record<string, string> = { vdi: o.vdi, pattern: o.pattern, percent: String(o.percent), seed: String(o.seed) };
    if (o.content !== undefined) query['content'] = o.content;
    return this.admin('POST', '/lab/write', query);
  }

  private async raw<T>(method: string, params: unknown[]): Promise<T> {
    const response = await fetch(new URL('/jsonrpc', this.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const reply = (await response.json()) as { result?: T; error?: { message: string; data?: unknown[] } };
    if (reply.error !== undefined) throw new Error(`lab ${method}: ${reply.error.message} ${JSON.stringify(reply.error.data ?? [])}`);
    return reply.result as T;
  }

  private async admin<T>(method: string, path: string, query: Record<string, string>): Promise<T> {
    const url = new URL(path, this.url);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const response = await fetch(url, { method, headers: { authorization: this.authorization } });
    const text = await response.text();
    if (!response.ok) throw new Error(`lab ${method} ${path}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}
