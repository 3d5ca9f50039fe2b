// Opens the `xen-api` client on a pool with what a backup agent needs: only tasks are watched
// (`watchEvents: ['task']`, which `callAsync`, `getResource` and `putResource` require), the
// credentials are passed as `auth` (never inside the URL, so they never reach a log line).
import { createClient } from 'xen-api';
import type { Logger } from '../../../shared/logging/index.js';
import { HostXapi } from './host-xapi.js';
import type { RetryOptions } from './retry-with-backoff.js';
import { XapiCallError } from './xapi-call-error.js';
import type { XapiClient } from './xapi-client.js';

export interface XapiConnectionOptions {
  /** Pool master, `http(s)://host[:port]` (no credentials in it). */
  url: string;
  user: string;
  password: string;
  /** Accept a self-signed certificate on the pool master. */
  allowUnauthorized: boolean;
  /** RPC calls in flight at once. */
  callLimit: number;
  /** A single RPC call's timeout, in milliseconds. */
  callTimeoutMs: number;
  retry?: RetryOptions;
  logger?: Logger;
}

export async function connectXapi(options: XapiConnectionOptions): Promise<HostXapi> {
  const client = createClient({
    url: options.url,
    auth: { user: options.user, password: options.password },
    allowUnauthorized: options.allowUnauthorized,
    watchEvents: ['task'],
    callTimeout: options.callTimeoutMs,
    // The facade limits calls itself; the client's own limit must leave room for the event loop's
    // long poll (`event.from`), which holds a slot for up to a minute.
    callConcurrency: options.callLimit + 4,
  }) as unknown as XapiClient;
  try {
    await client.connect();
    // Tasks must be watched before the first callAsync / transfer can see its task end.
    await client.objectsFetched;
  } catch (error) {
    await client.disconnect().catch(() => undefined);
    throw XapiCallError.from('session.login_with_password', error);
  }
  return new HostXapi(client, {
    callLimit: options.callLimit,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.logger === undefined ? {} : { logger: options.logger.child({ component: 'xapi' }) }),
  });
}
