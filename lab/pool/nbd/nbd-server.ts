// The lab pool's NBD server, on its own port as XAPI's (10809 on a host; here `nbd.port`, 0 for a
// free one). Whether it requires TLS is decided per connection from the pool's networks
// (nbd-network.ts), so changing a network's purpose takes effect for the next client; with no NBD
// network at all a client is refused at once, as a host that serves no NBD would.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from '../../../shared/logging/index.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { SessionManager } from '../rpc/session-manager.js';
import type { LabState } from '../state/lab-state.js';
import { formatExportName } from './export-name.js';
import { ensureNbdCertificate, type NbdCertificate } from './nbd-certificate.js';
import { NbdConnection } from './nbd-connection.js';
import { NbdExports, type ExportSource } from './nbd-exports.js';
import { nbdMode } from './nbd-network.js';

/** A connection silent this long (milliseconds) is closed, so idle clients do not pin disks forever. */
const IDLE_TIMEOUT_MS = 10 * 60 * 1000;

export interface NbdServerConfig {
  /** Address to listen on, and the address VDI.get_nbd_info gives. */
  address: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/** One record of VDI.get_nbd_info, XAPI's `vdi_nbd_server_info`. */
export interface NbdServerInfo {
  address: string;
  port: number;
  exportname: string;
  /** PEM of the server's certificate ('' on a plaintext pool, as XAPI gives). */
  cert: string;
  subject: string;
}

export class LabNbdServer {
  /** Each connection and the end of its serving (its reader closed). */
  private readonly connections = new Map<NbdConnection, Promise<void>>();
  private readonly tls: SecureContext;

  private constructor(
    private readonly server: Server,
    private readonly state: LabState,
    readonly address: string,
    readonly port: number,
    readonly certificate: NbdCertificate,
  ) {
    this.tls = createSecureContext({ cert: certificate.cert, key: certificate.key });
  }

  static async start(config: NbdServerConfig, parts: { state: LabState; sessions: SessionManager; faults: FaultInjector; logger: Logger | undefined }): Promise<LabNbdServer> {
    const host = parts.state.records.get('host', parts.state.hostRef);
    const certificate = await ensureNbdCertificate(parts.state.dir, String(host['hostname'] || host['name_label']), config.address);
    const exports = new NbdExports(parts.state, parts.sessions);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.address, () => (server.off('error', reject), resolve()));
    });
    const nbd = new LabNbdServer(server, parts.state, config.address, (server.address() as AddressInfo).port, certificate);
    server.on('connection', (socket) => nbd.accept(socket, exports, parts.faults, parts.logger));
    return nbd;
  }

  /** VDI.get_nbd_info: one record for the (one) host, or none when no network allows NBD. */
  info(vdiUuid: string, sessionRef: string): NbdServerInfo[] {
    const mode = nbdMode(this.state.records);
    if (mode === 'off') return [];
    const tls = mode === 'tls';
    return [{
      address: this.address,
      port: this.port,
      exportname: formatExportName({ vdiUuid, sessionRef }),
      cert: tls ? this.certificate.cert : '',
      subject: tls ? this.certificate.subject : '',
    }];
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections.keys()) connection.destroy();
    await Promise.all([closed, ...this.connections.values()]);
  }

  private accept(socket: Socket, exports: NbdExports, faults: FaultInjector, logger: Logger | undefined): void {
    socket.on('error', () => undefined); // a client's reset ends its connection, nothing more
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const mode = nbdMode(this.state.records);
    if (mode === 'off') {
      socket.destroy();
      return;
    }
    const expiring: ExportSource = {
      lookup: (name) => {
        const found = exports.lookup(name);
        if ('vdiUuid' in found && faults.take('nbdExportExpired', found.vdiUuid) !== undefined) return { refused: 'the session of this export name is not valid (logged out or expired)' };
        return found;
      },
      open: (vdiUuid) => exports.open(vdiUuid),
    };
    const connection = new NbdConnection(socket, {
      exports: expiring,
      tls: mode === 'tls' ? this.tls : undefined,
      cutAfterBytes: (vdiUuid) => faults.take('nbdCut', vdiUuid)?.afterBytes,
      logger,
      onServed: (bytes) => void (this.state.served.nbd += bytes),
    });
    this.connections.set(connection, connection.serve().finally(() => this.connections.delete(connection)));
  }
}
