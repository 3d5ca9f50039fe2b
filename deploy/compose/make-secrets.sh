#!/bin/sh
# The compose stack's credentials, made once into the `secrets` volume by the one-shot `secrets`
# service (docker-compose.yml) before anything else starts; kept on later `up`s. What
# docs/security.md asks an operator to set up, for one pool (`lab`) and one remote (`local`):
#   ca.crt/ca.key      the CA of every certificate (its key stays in this volume only)
#   <name>.crt/.key    one certificate per process, its role in the SAN URI
#                      (urn:deltachain:<role>[:<name>]); servers also name their compose host
#   keys/              the coordinator's signing key pair and digest key (deltachain keys generate)
#   nats/              each process's nkey seed and nats-server's config with the authorization
#                      block (deltachain nats-config) and TLS
# Every process runs as the image's `node` user; keys are readable by it only.
set -eu
out=${1:-/secrets}
if [ -f "$out/.complete" ]; then
  echo "secrets: already made in $out (delete the volume to make new ones)"
  exit 0
fi
umask 077
mkdir -p "$out/keys" "$out/nats"
cd "$out"

issue() { # name, SAN, extended key usage
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj /CN=deltachain-compose-ca -keyout ca.key -out ca.crt 2>/dev/null
issue coordinator 'URI:urn:deltachain:coordinator,DNS:coordinator' serverAuth,clientAuth
issue storage-local 'URI:urn:deltachain:storage:local,DNS:storage-agent' serverAuth,clientAuth
issue host-lab 'URI:urn:deltachain:host:lab' clientAuth
issue operator 'URI:urn:deltachain:operator:compose' clientAuth
issue nats 'DNS:nats' serverAuth

deltachain keys generate --out keys
deltachain nats-config --out nats --namespace deltachain --pool lab --remote local > nats/authorization.conf
cat > nats/nats.conf <<CONF
# nats-server for the compose stack (JetStream and monitoring on its command line): TLS, one
# nkey user per process.
port: 4222
tls { cert_file: "/secrets/nats.crt", key_file: "/secrets/nats.key", ca_file: "/secrets/ca.crt" }
include authorization.conf
CONF
chmod 644 ca.crt nats.crt nats/nats.conf nats/authorization.conf   # nats-server runs as root: it reads nats.key as it is
touch .complete
echo "secrets: made in $out"
