// What a `nats` config allows before anything is sent (nats-config.ts explains the rules):
// TLS options for the client, or a ConfigError that says what to add; warnings for what is
// allowed but weaker (plaintext to loopback, `insecure`), logged once at start.
import type { TlsOptions } from '@nats-io/transport-node';
import { ConfigError } from '../errors.js';
import type { NatsConfig } from './nats-config.js';

export interface ConnectionPolicy {
  /** TLS for the client (always required when set), or undefined for plaintext. */
  tls: TlsOptions | undefined;
  warnings: string[];
}

/** True for localhost, 127.0.0.0/8 and ::1: traffic that never leaves this machine. */
export function isLoopbackServer(server: string): boolean {
  let host: string;
  try {
    host = new URL(server.includes('://') ? server : `nats://${server}`).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]' || host === '::1';
}

export function connectionPolicy(config: NatsConfig): ConnectionPolicy {
  const warnings: string[] = [];
  if (config.seedFile === undefined) {
    if (!config.insecure) throw new ConfigError('nats.seedFile is missing: give this process its nkey seed (`deltachain nats-config --help` makes them), or set nats.insecure: true to connect without credentials');
    warnings.push('nats.insecure: connecting to NATS without credentials');
  }
  if (config.tls !== undefined) {
    const tls: TlsOptions = {};
    if (config.tls.ca !== undefined) tls.caFile = config.tls.ca;
    if (config.tls.cert !== undefined) tls.certFile = config.tls.cert;
    if (config.tls.key !== undefined) tls.keyFile = config.tls.key;
    return { tls, warnings };
  }
  const remote = config.servers.filter((s) => !isLoopbackServer(s));
  if (remote.length > 0 && !config.insecure) {
    throw new ConfigError(`nats.tls is missing and ${remote.join(', ')} is not a loopback address: give nats.tls (ca, and cert/key if the server asks for a client certificate), or set nats.insecure: true for plaintext`);
  }
  warnings.push(remote.length > 0 ? `nats.insecure: plaintext to ${remote.join(', ')}` : 'NATS in plaintext to a loopback server (give nats.tls to encrypt it)');
  return { tls: undefined, warnings };
}
