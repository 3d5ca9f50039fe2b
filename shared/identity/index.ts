export { NAME_PATTERN, ROLES, identityOfCertificate, identityText, identityUri, parseIdentityText, type Identity, type Role } from './identity.js';
export { peerIdentity } from './peer-identity.js';
