// Talks to a running lab pool's admin endpoints (/lab/…) — for the CLI, tests and harnesses.
// Accepts the pool URL with credentials (`http://user:password@host:port`); they are sent as
// HTTP Basic auth, never kept in the URL that is requested or printed.
import { DeltachainError } from '../../../shared/errors.js';
import type { FaultsConfig } from '../faults/fault-config.js';
import type { LabSummary } from '../http/lab-summary.js';
import type { DiskDigest } from '../workload/disk-digest.js';
import type { WriteResult } from '../workload/apply-writes.js';
import type { ContentKind } from '../workload/content-kind.js';
import type { WritePattern } from '../workload/write-plan.js';

export class LabAdminError extends DeltachainError {
  override name = 'LabAdminError';
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('LAB_ADMIN', message, options);
  }
}

export interface LabWriteRequest {
  vdi: string;
  pattern: WritePattern;
  /** Share of the disk, 0 < percent ≤ 100. */
  percent: number;
  seed: number;
  /** What is written: `random` (default) or `mixed`. */
  content?: ContentKind;
}

export type LabWriteResult = WriteResult & Required<LabWriteRequest>;

export class LabAdminClient {
  private readonly base: URL;
  private readonly authorization: string;

  constructor(url: string, credentials?: { user: string; password: string }) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw new LabAdminError(`--url ${JSON.stringify(url)} is not a URL (expected http://user:password@host:port)`, { cause: error });
    }
    const user = credentials?.user ?? decodeURIComponent(parsed.username);
    const password = credentials?.password ?? decodeURIComponent(parsed.password);
    if (user === '') throw new LabAdminError('no credentials: give the URL as http://user:password@host:port');
    parsed.username = '';
    parsed.password = '';
    this.base = parsed;
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  state(): Promise<LabSummary> {
    return this.request('GET', '/lab/state');
  }

  write(request: LabWriteRequest): Promise<LabWriteResult> {
    const { vdi, pattern, percent, seed, content = 'random' } = request;
    return this.request('POST', '/lab/write', { vdi, pattern, percent: String(percent), seed: String(seed), content });
  }

  digest(vdi: string): Promise<DiskDigest> {
    return this.request('GET', '/lab/digest', { vdi });
  }

  faults(): Promise<FaultsConfig> {
    return this.request('GET', '/lab/faults');
  }

  /** Arms faults (a partial config; `null` disarms one). */
  setFaults(patch: Record<string, unknown>): Promise<FaultsConfig> {
    return this.request('POST', '/lab/faults', undefined, patch);
  }

  clearFaults(): Promise<FaultsConfig> {
    return this.request('DELETE', '/lab/faults');
  }

  deleteSnapshot(uuid: string): Promise<{ vm?: string; vdis: string[] }> {
    return this.request('POST', '/lab/delete-snapshot', { uuid });
  }

  private async request<T>(method: string, path: string, query?: Record<string, string>, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: this.authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new LabAdminError(`cannot reach the lab pool at ${this.base.origin}: ${(error as Error).message}`, { cause: error, retryable: true });
    }
    const text = await response.text();
    if (response.status === 401) throw new LabAdminError(`the lab pool at ${this.base.origin} refused the credentials`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new LabAdminError(`${method} ${path}: HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      const error = value as { error?: string; message?: string };
      throw new LabAdminError(`${method} ${path}: ${error.message ?? error.error ?? `HTTP ${response.status}`}`);
    }
    return value as T;
  }
}
