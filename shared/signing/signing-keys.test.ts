import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { generateSigningKeyPair, signerFromPem, verifierFromPem } from './signing-keys.js';

describe('signing keys', () => {
  test('a signature verifies with the pair’s public key and with no other', () => {
    const pair = generateSigningKeyPair();
    const signer = signerFromPem(pair.privatePem, 'test');
    const message = Buffer.from('task bytes');
    const signature = signer.sign(message);
    assert.equal(signature.length, 64);
    assert.ok(verifierFromPem(pair.publicPem, 'test').verify(message, signature));
    assert.ok(signer.publicKey.verify(message, signature));
    assert.equal(signer.publicKey.toPem(), pair.publicPem);
    const other = verifierFromPem(generateSigningKeyPair().publicPem, 'other');
    assert.equal(other.verify(message, signature), false);
  });

  test('a changed message, a changed or short signature are refused without throwing', () => {
    const signer = signerFromPem(generateSigningKeyPair().privatePem, 'test');
    const signature = signer.sign(Buffer.from('abc'));
    assert.equal(signer.publicKey.verify(Buffer.from('abd'), signature), false);
    const flipped = Buffer.from(signature);
    flipped[10]! ^= 1;
    assert.equal(signer.publicKey.verify(Buffer.from('abc'), flipped), false);
    assert.equal(signer.publicKey.verify(Buffer.from('abc'), signature.subarray(0, 63)), false);
    assert.equal(signer.publicKey.verify(Buffer.from('abc'), Buffer.alloc(0)), false);
  });

  test('keys that are not Ed25519, or not keys, are refused with the file named', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.throws(() => signerFromPem(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), '/etc/x.key'), (e: unknown) => e instanceof ConfigError && /\/etc\/x.key: an Ed25519 key is needed, this is rsa/.test(e.message));
    assert.throws(() => verifierFromPem('nonsense', '/etc/x.pub'), (e: unknown) => e instanceof ConfigError && /\/etc\/x.pub: not a PEM public key/.test(e.message));
  });
});
