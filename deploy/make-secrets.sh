#!/usr/bin/env bash
# The secret files docker-compose.yml mounts at /run/secrets/NAME.
#
#   deploy/make-secrets.sh [DIR]
#
# Writes DIR (default deploy/secrets)/{bus_key, audit_key, jwt_secret, phi_master_key, phi_lookup_key,
# influx_password, mongo_root_password, mongo_password_{ingest,alert_engine,notifier,api,admin}}
# as 32 random bytes in hex each, and mongo_keyfile (the replica set members' shared key,
# 756 random bytes in base64) (mode 0600, the directory 0700).
# Existing files are kept: a new bus, audit or PHI key would make what is stored or in
# flight unreadable (rotation: deploy/README.md, "Secrets"). oidc_client_secret is made
# empty (no console sign-in through an OpenID provider); to use one, write the client
# secret it gave the api there (docs/operations.md, "OIDC sign-in"). twilio_auth_token is your
# Twilio account's auth token: write it yourself, e.g.
#   printf '%s' "$TOKEN" > deploy/secrets/twilio_auth_token
# and put the same InfluxDB password in .env as CW_INFLUXDB_USER_PASSWORD (the influxdb
# image creates its user from the environment on first start):
#   echo "CW_INFLUXDB_USER_PASSWORD=$(cat deploy/secrets/influx_password)" >> deploy/.env
set -euo pipefail

dir="${1:-$(cd "$(dirname "$0")" && pwd)/secrets}"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
for name in bus_key audit_key jwt_secret phi_master_key phi_lookup_key influx_password \
  mongo_root_password mongo_password_ingest mongo_password_alert_engine \
  mongo_password_notifier mongo_password_api mongo_password_admin; do
  if [[ -s "$dir/$name" ]]; then
    echo "kept $dir/$name"
  else
    openssl rand -hex 32 > "$dir/$name"
    echo "wrote $dir/$name"
  fi
done
if [[ -s "$dir/mongo_keyfile" ]]; then
  echo "kept $dir/mongo_keyfile"
else
  openssl rand -base64 756 > "$dir/mongo_keyfile"
  echo "wrote $dir/mongo_keyfile"
fi
if [[ -e "$dir/oidc_client_secret" ]]; then
  echo "kept $dir/oidc_client_secret"
else
  : > "$dir/oidc_client_secret"
  echo "wrote $dir/oidc_client_secret (empty: no OIDC sign-in until you fill it in)"
fi
if [[ ! -s "$dir/twilio_auth_token" ]]; then
  echo "still missing: $dir/twilio_auth_token (your Twilio auth token)" >&2
fi
