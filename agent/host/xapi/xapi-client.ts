// The narrow slice of the `xen-api` client (vatesfr, npm 4.7.6) the host agent uses. Owning this
// interface keeps the rest of the agent independent of the client's untyped surface and lets the
// XAPI facade wrap exactly what it needs (limits, retries, error classification).
import type { Readable } from 'node:stream';

/** Query parameters of an XAPI HTTP handler (`/export_raw_vdi`, `/import_raw_vdi`). */
export type XapiQuery = Record<string, string>;

/** A response of `getResource`: an undici response whose body is the stream. */
export interface XapiResourceResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Settles when the XAPI task of the transfer ends (rejects with the task's error). */
  task?: Promise<unknown>;
}

/** A body for `putResource`: a stream with its exact length (XAPI rejects chunked encoding). */
export type XapiUploadBody = Readable & { length: number };

export interface XapiClient {
  readonly status: string;
  /** Resolves once the watched classes (tasks) were first fetched and events flow. */
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  callAsync(method: string, ...args: unknown[]): Promise<unknown>;
  getResource(path: string, options: { query: XapiQuery; task?: boolean }): Promise<XapiResourceResponse>;
  putResource(body: XapiUploadBody, path: string, options: { query: XapiQuery; task?: boolean }): Promise<unknown>;
}
