// The NBD client against independent servers, qemu-nbd and nbdkit serving a 64 MiB file with
// holes: whole and random reads compared with the file, TLS pinned to the right certificate and
// refused otherwise, and reads that survive a cut connection or a restarted server.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NbdClient, NbdDiskReader, NbdError, type ByteRange, type NbdConnectOptions, type NbdDiskReaderOptions } from '../shared/nbd/index.js';
import {
  CuttingRelay,
  makeDiskImage,
  makeTestCertificates,
  startNbdServer,
  type NbdServerKind,
  type RunningNbdServer,
  type TestCertificates,
} from './support/nbd-servers.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
const EXPORT = 'disk-under-test';

let folder: string;
let file: string;
let expected: Buffer;
let certificates: TestCertificates;
const servers: RunningNbdServer[] = [];

before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'nbd-client-'));
  file = join(folder, 'disk.raw');
  await makeDiskImage(file, SIZE);
  expected = await readFile(file);
  certificates = await makeTestCertificates(join(folder, 'pki'));
});

after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await rm(folder, { recursive: true, force: true });
});

async function serve(kind: NbdServerKind, tlsFolder?: string, port?: number): Promise<RunningNbdServer> {
  const server = await startNbdServer({ kind, file, exportName: EXPORT, ...(tlsFolder ? { tlsFolder } : {}), ...(port ? { port } : {}) });
  servers.push(server);
  return server;
}

function endpoint(port: number, extra: Partial<NbdConnectOptions> = {}): NbdConnectOptions {
  return { host: '127.0.0.1', port, exportName: EXPORT, timeoutMs: 10_000, ...extra };
}

async function readAll(options: NbdDiskReaderOptions, ranges: ByteRange[]): Promise<{ parts: Array<{ offset: number; data: Buffer }>; reader: NbdDiskReader }> {
  const reader = new NbdDiskReader(options);
  try {
    await reader.open();
    const parts: Array<{ offset: number; data: Buffer }> = [];
    for await (const part of reader.readRanges(ranges)) parts.push(part);
    return { parts, reader };
  } finally {
    await reader.close();
  }
}

function assertMatchesFile(parts: Array<{ offset: number; data: Buffer }>, ranges: ByteRange[]): void {
  let index = 0;
  for (const range of ranges) {
    let offset = range.offset;
    while (offset < range.offset + range.length) {
      const part = parts[index++];
      assert.ok(part, `a part is missing at ${offset}`);
      assert.equal(part.offset, offset);
      assert.ok(part.data.equals(expected.subarray(offset, offset + part.data.length)), `bytes differ at ${offset}`);
      offset += part.data.length;
    }
  }
  assert.equal(index, parts.length, 'no part beyond the ranges');
}

function randomRanges(count: number): ByteRange[] {
  return Array.from({ length: count }, () => {
    const length = randomInt(1, 3 * MiB);
    return { offset: randomInt(0, SIZE - length), length };
  });
}

async function refusal(options: NbdConnectOptions): Promise<NbdError> {
  const error = await NbdClient.connect(options).then(
    async (client) => (await client.close(), undefined),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof NbdError, `expected an NbdError, got ${String(error)}`);
  return error;
}

for (const kind of ['qemu-nbd', 'nbdkit'] as const) {
  describe(`NBD client against ${kind}`, () => {
    // A case that only one of the two servers can show is registered for that one only.
    const itOn = (server: typeof kind) => (kind === server ? it : () => undefined);
    let plain: RunningNbdServer;
    let secure: RunningNbdServer;
    before(async () => {
      [plain, secure] = await Promise.all([serve(kind), serve(kind, certificates.signedFolder)]);
    });

    it('reads the whole disk over two connections, holes as zeroes', async () => {
      const ranges = [{ offset: 0, length: SIZE }];
      const { parts } = await readAll({ endpoint: async () => endpoint(plain.port), connections: 2 }, ranges);
      assertMatchesFile(parts, ranges);
    });

    it('reads random ranges, in the order asked, with a small window', async () => {
      const ranges = randomRanges(40);
      const { parts } = await readAll({ endpoint: async () => endpoint(plain.port), connections: 3, requestBytes: 256 * 1024, maxInFlightBytes: MiB }, ranges);
      assertMatchesFile(parts, ranges);
    });

    it('reads over TLS with the pinned certificate and subject', async () => {
      const tls = { ca: certificates.caPem, subject: certificates.subject };
      const ranges = [{ offset: 0, length: SIZE }];
      const { parts } = await readAll({ endpoint: async () => endpoint(secure.port, { tls }), connections: 2 }, ranges);
      assertMatchesFile(parts, ranges);
    });

    // qemu-nbd checks its own credentials and will not serve with a certificate that is both leaf and CA.
    itOn('nbdkit')("pins a self-signed host certificate, as an XCP-ng host's is", async () => {
      const host = await serve(kind, certificates.selfSignedFolder);
      const client = await NbdClient.connect(endpoint(host.port, { tls: { ca: certificates.selfSignedPem, subject: certificates.subject } }));
      try {
        assert.ok((await client.read(MiB, MiB)).equals(expected.subarray(MiB, 2 * MiB)));
      } finally {
        await client.close();
      }
      const signedPinned = await refusal(endpoint(host.port, { tls: { ca: certificates.caPem, subject: certificates.subject } }));
      assert.equal(signedPinned.code, 'NBD_TLS_REFUSED');
    });

    it('refuses a certificate that is not the pinned one, and a wrong subject', async () => {
      const stranger = await refusal(endpoint(secure.port, { tls: { ca: certificates.strangerPem, subject: certificates.subject } }));
      assert.equal(stranger.code, 'NBD_TLS_REFUSED');
      assert.equal(stranger.retryable, false);
      const otherName = await refusal(endpoint(secure.port, { tls: { ca: certificates.caPem, subject: 'other-host.pool.test' } }));
      assert.equal(otherName.code, 'NBD_TLS_REFUSED');
    });

    it('refuses a server without TLS when TLS was asked, and says when the server requires it', async () => {
      const downgraded = await refusal(endpoint(plain.port, { tls: { ca: certificates.caPem, subject: certificates.subject } }));
      assert.equal(downgraded.code, 'NBD_TLS_REFUSED');
      assert.match(downgraded.message, /will not do it/);
      const required = await refusal(endpoint(secure.port));
      assert.equal(required.code, 'NBD_TLS_REQUIRED');
    });

    // nbdkit's file plugin serves its one file under any name, so only qemu-nbd can refuse one.
    itOn('qemu-nbd')('refuses an unknown export name', async () => {
      const refused = await refusal(endpoint(plain.port, { exportName: 'no-such-disk' }));
      assert.equal(refused.code, 'NBD_EXPORT_REFUSED');
    });

    it('skips the holes base:allocation reports, and the data ranges alone rebuild the disk', async () => {
      const reader = new NbdDiskReader({ endpoint: async () => endpoint(plain.port, { blockStatus: true }), connections: 2 });
      try {
        await reader.open();
        const ranges = await reader.dataRanges({ offset: 0, length: SIZE });
        const everyFourthMiBAHole = Array.from({ length: SIZE / (4 * MiB) }, (_, index) => ({ offset: index * 4 * MiB, length: 3 * MiB }));
        assert.deepEqual(ranges, everyFourthMiBAHole);
        const rebuilt = Buffer.alloc(SIZE);
        for await (const part of reader.readRanges(ranges)) part.data.copy(rebuilt, part.offset);
        assert.ok(rebuilt.equals(expected));
      } finally {
        await reader.close();
      }
    });

    it('reads the same bytes with structured replies as with simple ones', async () => {
      const client = await NbdClient.connect(endpoint(plain.port, { blockStatus: true }));
      try {
        assert.equal(client.reportsAllocation, true);
        for (const { offset, length } of randomRanges(20)) {
          const data = await client.read(offset, Math.min(length, client.exportInfo.maxReadBytes));
          assert.ok(data.equals(expected.subarray(offset, offset + data.length)), `bytes differ at ${offset}`);
        }
        const [first] = await client.blockStatus(3 * MiB, MiB);
        assert.deepEqual(first, { offset: 3 * MiB, length: MiB, hole: true, zero: true });
      } finally {
        await client.close();
      }
    });

    it('refuses reads past the end locally and keeps the connection', async () => {
      const client = await NbdClient.connect(endpoint(plain.port));
      try {
        assert.equal(client.size, SIZE);
        await assert.rejects(client.read(SIZE - 4096, 8192), (error: unknown) => error instanceof NbdError && error.code === 'NBD_RANGE_INVALID');
        await assert.rejects(client.read(SIZE, 1), (error: unknown) => error instanceof NbdError && error.code === 'NBD_RANGE_INVALID');
        await assert.rejects(client.read(0, 64 * MiB), /request limit/);
        const tail = await client.read(SIZE - 4096, 4096);
        assert.ok(tail.equals(expected.subarray(SIZE - 4096)));
      } finally {
        await client.close();
      }
    });
  });
}

describe('NBD disk reader on a cut connection', () => {
  it('reopens a connection cut mid-reply and asks again for what had no reply', async () => {
    const server = await serve('qemu-nbd');
    const relay = await CuttingRelay.start(server.port);
    try {
      let reconnects = 0;
      const options: NbdDiskReaderOptions = {
        endpoint: async (reason) => (reason === 'reconnect' && reconnects++, endpoint(relay.port)),
        connections: 2,
        retryDelayMs: 20,
      };
      const ranges = [{ offset: 0, length: SIZE }];
      relay.cutNextAfter(5 * MiB + 12_345);
      const { parts, reader } = await readAll(options, ranges);
      assertMatchesFile(parts, ranges);
      assert.equal(relay.cuts, 1);
      assert.ok(reconnects >= 1 && reader.reconnectionCount === reconnects, `reconnected ${reconnects} times`);
    } finally {
      await relay.stop();
    }
  });

  it('does the same over TLS with structured replies', async () => {
    const server = await serve('qemu-nbd', certificates.signedFolder);
    const relay = await CuttingRelay.start(server.port);
    try {
      const tls = { ca: certificates.caPem, subject: certificates.subject };
      const ranges = [{ offset: 0, length: SIZE }];
      relay.cutNextAfter(9 * MiB + 777);
      const { parts, reader } = await readAll({ endpoint: async () => endpoint(relay.port, { tls, blockStatus: true }), connections: 2, retryDelayMs: 20 }, ranges);
      assertMatchesFile(parts, ranges);
      assert.equal(relay.cuts, 1);
      assert.ok(reader.reconnectionCount >= 1);
    } finally {
      await relay.stop();
    }
  });

  it('resumes when the server is killed and restarted on the same port', async () => {
    const first = await serve('nbdkit');
    let restarted: Promise<RunningNbdServer> | undefined;
    const reader = new NbdDiskReader({ endpoint: async () => endpoint(first.port), connections: 2, retryDelayMs: 100, retries: 6, maxInFlightBytes: 4 * MiB });
    try {
      await reader.open();
      const parts: Array<{ offset: number; data: Buffer }> = [];
      const ranges = [{ offset: 0, length: SIZE }];
      for await (const part of reader.readRanges(ranges)) {
        parts.push(part);
        if (parts.length === 8) {
          await first.stop();
          restarted = serve('nbdkit', undefined, first.port);
        }
      }
      assertMatchesFile(parts, ranges);
      assert.ok(reader.reconnectionCount >= 1);
    } finally {
      await reader.close();
      await restarted;
    }
  });

  it('fails clearly when the server does not come back', async () => {
    const server = await serve('qemu-nbd');
    const reader = new NbdDiskReader({ endpoint: async () => endpoint(server.port), connections: 1, retries: 2, retryDelayMs: 10 });
    try {
      await reader.open();
      await server.stop();
      const reading = (async () => {
        for await (const part of reader.readRanges([{ offset: 0, length: 4 * MiB }])) assert.ok(part.data.length > 0);
      })();
      await assert.rejects(reading, (error: unknown) => error instanceof NbdError && error.code === 'NBD_CONNECTION_LOST' && /failed 3 times/.test(error.message));
    } finally {
      await reader.close();
    }
  });
});
