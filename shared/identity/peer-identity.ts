// The identity of the peer of a gRPC call, from the client certificate the TLS handshake
// verified (grpc-js exposes it as the call's auth context). A plaintext call, or a TLS call
// without a client certificate, has none.
import { identityOfCertificate, type Identity } from './identity.js';

interface WithAuthContext {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: { subjectaltname?: string } } | null;
}

export function peerIdentity(call: WithAuthContext): Identity | undefined {
  const context = call.getAuthContext();
  if (context?.transportSecurityType !== 'ssl') return undefined;
  const certificate = context.sslPeerCertificate;
  if (certificate === undefined || Object.keys(certificate).length === 0) return undefined;
  return identityOfCertificate({ subjectaltname: certificate.subjectaltname ?? '' });
}
