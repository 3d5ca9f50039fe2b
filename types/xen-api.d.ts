// Type declarations for the `xen-api` npm client (Xen Orchestra, ISC, 4.7.x), which ships none.
// Only the surface Deltachain uses (the host agent and the lab pool's tests) is declared; it is
// written from the client's source (node_modules/xen-api/index.mjs) and docs/lab-pool.md.
// Behaviour notes worth knowing before calling these are on each member.
declare module 'xen-api' {
  import type { EventEmitter } from 'node:events';
  import type { Readable } from 'node:stream';
  import type { IncomingHttpHeaders } from 'node:http';

  /** `OpaqueRef:<uuid>`; `OpaqueRef:NULL` is the null reference. */
  export type XapiRef = string;

  /** A XAPI record as returned over the wire: field names are XAPI's (snake_case, `VBDs`, …). */
  export type XapiRecord = Record<string, unknown>;

  /** A record wrapped by the client: the wire fields plus `$ref`, `$id`, `$type` and helpers. */
  export interface XapiObject extends XapiRecord {
    readonly $ref: XapiRef;
    /** The record's uuid when it has one, else its ref. */
    readonly $id: string;
    readonly $type: string;
    $call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
    $callAsync<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  }

  /** Cancellation token of promise-toolbox; may be passed as the first argument of cancelable calls. */
  export interface CancelToken {
    readonly promise: Promise<unknown>;
    readonly reason: unknown;
    readonly requested: boolean;
  }

  /** A promise returned by a cancelable method when no token was passed. */
  export interface CancelablePromise<T> extends Promise<T> {
    cancel(): void;
  }

  export interface XapiOptions {
    /** `[http(s)://][user:password@]host[:port]`; https by default. */
    url: string;
    /** Credentials; when absent they are taken from the URL (which then must hold a user). */
    auth?: { user: string; password?: string; sessionId?: string };
    /** Accept self-signed TLS certificates (real pools usually have them). */
    allowUnauthorized?: boolean;
    /** Refuse every call that is not a `*.get_*` read. */
    readOnly?: boolean;
    /** `auto` (default) tries JSON-RPC then falls back to XML-RPC. */
    transport?: 'auto' | 'json-rpc' | 'xml-rpc';
    /**
     * Classes whose records are cached from events; `['task']` is what a backup agent wants
     * (needed by callAsync/getResource/putResource). `false` disables events and breaks callAsync.
     */
    watchEvents?: string[] | false;
    /** Milliseconds per call (number, `{method: ms, '*': ms}` or a function); default one hour. */
    callTimeout?: number | Record<string, number> | ((method: string, args: unknown[]) => number);
    /** Milliseconds without traffic before an HTTP transfer fails; default 5 minutes. */
    httpInactivityTimeout?: number;
    /** Milliseconds to wait after an event.from failure before polling again; default 60 000. */
    eventPollDelay?: number;
    /** Milliseconds between two event.from calls; default 200. */
    debounce?: number;
    /** Concurrent RPC calls; default 20. */
    callConcurrency?: number;
    httpProxy?: string;
    syncStackTraces?: boolean;
    ignorePrematureClose?: boolean;
    reverseHostIpAddresses?: boolean;
    roCallRetryOptions?: { delay?: number; tries?: number };
  }

  export interface ResourceOptions {
    /** Host record to address instead of the pool master. */
    host?: XapiObject;
    /** Query string parameters (`vdi`, `format`, `base`, …); session_id and task_id are added. */
    query?: Record<string, string | number | boolean>;
    /** `true` creates a task and watches it; a ref (or a promise of one) uses that task. */
    task?: boolean | XapiRef | Promise<XapiRef>;
  }

  /** The undici response of `getResource`, plus the task outcome when a task was used. */
  export interface ResourceResponse {
    statusCode: number;
    headers: IncomingHttpHeaders;
    /** The body stream (undici BodyReadable, a Readable). */
    body: Readable & { text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer> };
    /** Settles with the task's result: '' on success for exports; rejects with an XapiError. */
    task?: Promise<unknown>;
  }

  export class Xapi extends EventEmitter {
    constructor(options: XapiOptions);
    /** Opens a session: login, pool record, `system.listMethods`. */
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    readonly status: 'connected' | 'connecting' | 'disconnected';
    /** Resolves when connected (again). */
    readonly connected: Promise<void>;
    readonly disconnected: Promise<void>;
    /** The pool record, once connected. */
    readonly pool: XapiObject;
    /** Throws unless connected. */
    readonly sessionId: string;
    readonly readOnly: boolean;
    /** Resolves once the first fetch of the watched classes is done. */
    readonly objectsFetched: Promise<void>;
    readonly lastEventFetchedTimestamp: number | undefined;
    readonly watchEventsError: unknown;

    /**
     * Calls a method with the session prepended; `*.get_*` calls are retried on ECONNRESET;
     * SESSION_INVALID re-logs once.
     */
    call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
    /**
     * Calls `Async.<method>`, waits for the task to end and destroys it; resolves with the task
     * result parsed as an XML-RPC value (a ref for VM.snapshot), rejects with an XapiError.
     */
    callAsync<T = unknown>(method: string, ...args: unknown[]): CancelablePromise<T>;
    callAsync<T = unknown>(cancelToken: CancelToken, method: string, ...args: unknown[]): Promise<T>;

    getAllRecords(type: string): Promise<XapiObject[]>;
    getRecord(type: string, ref: XapiRef): Promise<XapiObject>;
    getRecordByUuid(type: string, uuid: string): Promise<XapiObject>;
    getRecords(type: string, refs: XapiRef[]): Promise<XapiObject[]>;
    getField<T = unknown>(type: string, ref: XapiRef, field: string): Promise<T>;
    getFieldByUuid<T = unknown>(type: string, uuid: string, field: string): Promise<T>;
    setField(type: string, ref: XapiRef, field: string, value: unknown): Promise<void>;
    setFields(type: string, ref: XapiRef, fields: Record<string, unknown>): Promise<void>;
    /** Sets one key of a map field (remove_from then add_to); `null` removes it. */
    setFieldEntry(type: string, ref: XapiRef, field: string, entry: string, value: string | null): Promise<void>;
    setFieldEntries(type: string, ref: XapiRef, field: string, entries: Record<string, string | null>): Promise<void>;

    /** Creates a task that is destroyed once it settles. */
    createTask(nameLabel: string, nameDescription?: string): Promise<XapiRef>;
    /** Resolves with the task result once it ends (needs events on tasks). */
    watchTask<T = unknown>(ref: XapiRef | XapiObject): Promise<T>;
    /** Makes sure every event up to now was processed; returns the cached object for `ref`. */
    barrier(ref?: XapiRef): Promise<XapiObject | undefined>;

    /** GET of an HTTP handler (2xx required, 302 followed); `response.body` is the stream. */
    getResource(pathname: string, options?: ResourceOptions): CancelablePromise<ResourceResponse>;
    getResource(cancelToken: CancelToken, pathname: string, options?: ResourceOptions): Promise<ResourceResponse>;
    /**
     * PUT to an HTTP handler. Give streams a `length` (bytes) for Content-Length; without it the
     * client sends a 1 PiB Content-Length and cuts the socket after the body. Streams are preceded
     * by an empty probe PUT. Resolves with the task result (the VDI ref for /import_raw_vdi).
     */
    putResource<T = unknown>(body: Readable | Buffer | string, pathname: string, options?: ResourceOptions): CancelablePromise<T>;
    putResource<T = unknown>(
      cancelToken: CancelToken,
      body: Readable | Buffer | string,
      pathname: string,
      options?: ResourceOptions,
    ): Promise<T>;

    /** Cached objects (only the watched classes). */
    getObject<T = XapiObject>(idOrUuidOrRef: string, defaultValue?: T): XapiObject | T;
    getObjectByRef<T = XapiObject>(ref: XapiRef, defaultValue?: T): XapiObject | T;
    getObjectByUuid<T = XapiObject>(uuid: string, defaultValue?: T): XapiObject | T;
    readonly objects: { all: Record<string, XapiObject> };
    watchEvents(): void;
  }

  /** A XAPI failure: `code` like `HANDLE_INVALID`, `params` its error parameters. */
  export interface XapiError extends Error {
    code: string;
    params: string[];
    call?: { duration: number; method: string; params: unknown[] };
    url?: string;
    task?: XapiRecord;
  }

  export const Ref: {
    readonly EMPTY: 'OpaqueRef:NULL';
    isNotEmpty(value: unknown): boolean;
    is(value: unknown): boolean;
  };

  export function createClient(options: XapiOptions): Xapi;
}
