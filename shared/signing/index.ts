export { SIGNATURE_SIZE, generateSigningKeyPair, readSigner, readVerifier, signerFromPem, verifierFromPem, type Signer, type Verifier } from './signing-keys.js';
