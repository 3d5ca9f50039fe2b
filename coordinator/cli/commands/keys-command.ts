// `deltachain keys generate --out DIR`: the coordinator's keys (docs/security.md). Writes
//   signing.key  Ed25519 private key (PKCS#8 PEM, 0600): the coordinator signs tasks and grants
//                with it (coordinator config keys.signing);
//   signing.pub  its public key (SPKI PEM): every agent pins it (trust.coordinatorKey);
//   digest.key   32 random bytes, base64 (0600): the key of the catalogue's digests of stored
//                backups (keys.digest), which storage agents never hold.
// Never overwrites: a key in use replaced by accident would make every agent refuse the
// coordinator's tasks, and a lost digest key every stored digest unverifiable.
import type { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';

const HELP = `
Run once, on the coordinator's machine, as the user the coordinator runs as:
  deltachain keys generate --out /etc/deltachain/keys
Then
  coordinator config   "keys": { "signing": "/etc/deltachain/keys/signing.key", "digest": "/etc/deltachain/keys/digest.key" }
  every agent's config "trust": { "coordinatorKey": "/etc/deltachain/keys/signing.pub" }   (copy signing.pub there)
Keep signing.key and digest.key private; back digest.key up with the database (without it the
catalogue's digests of stored backups cannot be checked). Rotating the signing key: generate into
a new folder, give every agent the new signing.pub and restart them, then restart the coordinator
with the new signing.key (docs/security.md, "Rotation").`;

export function registerKeysCommand(program: Command, io: CliIo): void {
  const keys = program.command('keys').description("the coordinator's signing and digest keys");
  keys
    .command('generate')
    .description('make signing.key, signing.pub and digest.key in a folder (existing files are never replaced)')
    .requiredOption('--out <dir>', 'folder for the keys (made 0700 when missing)')
    .addHelpText('after', HELP)
    .action(async (options: { out: string }) => {
      const { generateKeys } = await import('./generate-keys.js');
      try {
        const made = await generateKeys(options.out);
        for (const line of made) io.err(`${line}\n`);
      } catch (error) {
        io.err(`deltachain: ${(error as Error).message}\n`);
        process.exitCode = EXIT.FAILED;
      }
    });
}
