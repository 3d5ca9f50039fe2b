// Sealed digests: an HMAC-SHA256, under the coordinator's digest key (keys.digest), of what the
// catalogue knows of a backup disk — remote, VM, backup id, disk key, footer uuid and chain
// digest. The key lives in a file on the coordinator's machine only: someone who can write to
// Postgres, or who rewrote a remote, cannot make a changed digest carry a valid seal. Sealed
// where disks are recorded (backups.ts, record-backups.ts, chain-digests.ts); checked by
// restore (chainDigestsOf), verify and scan (scan-trust.ts). Without a key nothing is sealed or
// checked (the coordinator warns at start).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../shared/errors.js';
import type { Queryable } from './connect-catalogue.js';

export interface SealedFields {
  remote: string;
  vmUuid: string;
  backupId: string;
  diskKey: string;
  footerUuid: string;
  chainDigest: string;
}

let key: Buffer | undefined;

/** The key every seal of this process uses (undefined: none). */
export function useDigestKey(k: Buffer | undefined): void {
  key = k;
}

/** A digest key file: base64 of 32 random bytes (`deltachain keys generate` writes digest.key). */
export function readDigestKey(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new ConfigError(`keys.digest: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== 32) throw new ConfigError(`keys.digest: ${path} must hold base64 of 32 random bytes (deltachain keys generate makes it), it holds ${bytes.length} bytes`);
  return bytes;
}

function mac(k: Buffer, f: SealedFields): string {
  return createHmac('sha256', k).update(JSON.stringify(['deltachain digest seal v1', f.remote, f.vmUuid, f.backupId, f.diskKey, f.footerUuid.toLowerCase(), f.chainDigest])).digest('hex');
}

/** The seal to store with a disk ('' without a key, or for a disk without a chain digest). */
export function digestSeal(f: SealedFields): string {
  return key === undefined || f.chainDigest === '' ? '' : mac(key, f);
}

/** True unless a key is in use and the stored seal is not this row's. */
export function sealHolds(f: SealedFields & { seal: string }): boolean {
  if (key === undefined || f.chainDigest === '') return true;
  const want = Buffer.from(mac(key, f), 'hex');
  const have = Buffer.from(f.seal, 'hex');
  return have.length === want.length && timingSafeEqual(have, want);
}

/**
 * At the coordinator's start with a key: the first time, seals every disk the catalogue holds
 * (what was recorded before the key existed is trusted once) and remembers the key's
 * fingerprint; later, refuses a different key (its seals would all fail).
 */
export async function sealCatalogue(db: Queryable, k: Buffer): Promise<number> {
  const fingerprint = createHmac('sha256', k).update('deltachain digest key fingerprint').digest('hex');
  const [known] = await db<{ fingerprint: string }[]>`select fingerprint from digest_seal_key`;
  if (known) {
    if (known.fingerprint !== fingerprint) throw new ConfigError('keys.digest is not the key this catalogue was sealed with: give the digest key the catalogue was sealed with (keep it with the database\'s backups)');
    return 0;
  }
  const rows = await db<(SealedFields & { id: string })[]>`
    select d.id, b.remote_name as remote, b.vm_uuid, b.id as backup_id, d.disk_key, d.footer_uuid::text as footer_uuid, d.chain_digest
    from disks d join backups b on b.key = d.backup_key where d.chain_digest <> ''`;
  const seals = rows.map((r) => ({ id: r.id, seal: mac(k, r) }));
  if (seals.length > 0) {
    await db`update disks d set digest_seal = s.seal from jsonb_to_recordset(${db.json(seals as never)}) as s(id uuid, seal text) where d.id = s.id`;
  }
  await db`insert into digest_seal_key (fingerprint) values (${fingerprint})`;
  return seals.length;
}
