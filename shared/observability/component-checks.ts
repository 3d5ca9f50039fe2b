// Health checks of the dependencies several processes share. A check answers quickly and never
// throws past HealthChecks (which also bounds its time).
import { access, constants } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ComponentCheck } from './health-checks.js';

/** NATS: connected and answering a round trip (fails while reconnecting, draining or closed). */
export function natsCheck(nc: NatsConnection): ComponentCheck {
  return async () => {
    if (nc.isClosed()) return { ok: false, detail: 'closed' };
    if (nc.isDraining()) return { ok: false, detail: 'draining' };
    const ms = await nc.rtt();
    return { ok: true, detail: `connected to ${nc.getServer()}, rtt ${ms.toFixed(1)} ms` };
  };
}

/** A folder the process writes to (a remote's root, the lab's state): present and writable. */
export function writableFolderCheck(path: string): ComponentCheck {
  return async () => {
    await access(path, constants.W_OK);
    return { ok: true, detail: path };
  };
}
