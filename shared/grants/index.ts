export { GRANT_METADATA_KEY, GrantRefusedError, MAX_GRANT_BYTES, checkGrant, encodeSignedGrant, signGrant, type GrantNeed } from './grants.js';
export { Grant, GrantAction, SignedGrant } from '../proto/gen/deltachain/storage/v1/grant.js';
