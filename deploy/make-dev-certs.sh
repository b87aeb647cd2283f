#!/usr/bin/env bash
# Development / evaluation TLS certificates for docker-compose.yml.
#
#   deploy/make-dev-certs.sh [extra-hostname-or-ip ...]
#
# Writes deploy/certs/{ca.pem, server.pem, server-key.pem}: a local CA's certificate and a
# server certificate (ECDSA P-256, 825 days) valid for localhost, 127.0.0.1, the compose
# service names (ingest, api, alert-engine, notifier) and any extra names given, e.g.
# the host's public DNS name so real gateways can connect. Gateways and curl trust ca.pem.
# The CA's private key goes to deploy/dev-ca/ca-key.pem, outside deploy/certs: compose
# mounts deploy/certs into every container, and a container must never hold a key that
# can sign certificates its peers trust. Existing files are kept; delete deploy/certs
# (and deploy/dev-ca) to make new ones.
#
# Production: use certificates from your PKI instead, with the same file names.
set -euo pipefail

deploy="$(cd "$(dirname "$0")" && pwd)"
dir="$deploy/certs"
ca_dir="$deploy/dev-ca"
# An older version of this script left the CA key among the mounted certificates.
if [[ -e "$dir/ca-key.pem" ]]; then
  mkdir -p "$ca_dir"
  chmod 0700 "$ca_dir"
  mv "$dir/ca-key.pem" "$ca_dir/ca-key.pem"
  echo "moved the dev CA key out of the mounted $dir to $ca_dir/ca-key.pem"
fi
if [[ -e "$dir/server.pem" && -e "$dir/server-key.pem" && -e "$dir/ca.pem" ]]; then
  echo "certificates already in $dir (delete it to regenerate)"
  exit 0
fi
mkdir -p "$dir" "$ca_dir"
umask 077
chmod 0700 "$ca_dir"

san="DNS:localhost,IP:127.0.0.1,DNS:ingest,DNS:api,DNS:alert-engine,DNS:notifier,DNS:mongodb"
for name in "$@"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then
    san="$san,IP:$name"
  else
    san="$san,DNS:$name"
  fi
done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca_dir/ca-key.pem"
openssl req -x509 -new -key "$ca_dir/ca-key.pem" -sha256 -days 825 \
  -subj "/CN=cardiowatch dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$dir/ca.pem"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server-key.pem"
openssl req -new -key "$dir/server-key.pem" -subj "/CN=cardiowatch dev server" \
  -out "$dir/server.csr"
ext="$(mktemp)"
trap 'rm -f "$ext" "$dir/server.csr" "$dir/ca.srl"' EXIT
cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$ca_dir/ca-key.pem" \
  -CAcreateserial -days 825 -sha256 -extfile "$ext" -out "$dir/server.pem"

# The services run as uid 10001 and read the key through a bind mount. As root, give
# the key to that uid and keep it private; otherwise it must be world-readable (dev only).
chmod 0644 "$dir/ca.pem" "$dir/server.pem"
chmod 0755 "$dir"
if [[ "$(id -u)" == 0 ]]; then
  chown 10001:10001 "$dir/server-key.pem"
  chmod 0400 "$dir/server-key.pem"
else
  chmod 0644 "$dir/server-key.pem"
  echo "note: $dir/server-key.pem is world-readable so uid 10001 in the containers can read it;"
  echo "      for anything but a laptop, run: sudo chown 10001:10001 $dir/server-key.pem && sudo chmod 0400 $dir/server-key.pem"
fi
echo "wrote $dir/{ca.pem,server.pem,server-key.pem} for: $san"
echo "the dev CA key is $ca_dir/ca-key.pem (not mounted into any container)"
