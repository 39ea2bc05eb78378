#!/usr/bin/env bash
# Real clients against a started `latchkey` binary over HTTPS: the curl command from Auth0's
# docs, auth0-python, node-auth0 (auth0/legacy) and auth0.js in headless Chromium; the hosted
# login with auth0-spa-js and express-openid-connect in Chromium, with screenshots of every
# page in $LATCHKEY_SCREENSHOTS (default target/screenshots).
# SDK packages are installed into .sdk/ (git-ignored). Needs python3, node/npm, openssl and
# Debian's chromium (CHROMIUM=/path overrides /usr/bin/chromium).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sdk="$root/.sdk"
cd "$root"

chromium=${CHROMIUM:-/usr/bin/chromium}
for tool in python3 node npm openssl curl; do
  command -v "$tool" >/dev/null || { echo "sdk tests: $tool is required" >&2; exit 1; }
done
[ -x "$chromium" ] || { echo "sdk tests: Chromium not found at $chromium (apt-get install chromium)" >&2; exit 1; }

echo "== installing SDKs into .sdk/"
mkdir -p "$sdk/node"
if [ ! -x "$sdk/venv/bin/python" ]; then python3 -m venv "$sdk/venv"; fi
"$sdk/venv/bin/pip" install -q --disable-pip-version-check -r tests/sdk/requirements.txt
cp tests/sdk/package.json tests/sdk/package-lock.json "$sdk/node/"
if ! cmp -s tests/sdk/package-lock.json "$sdk/node/.installed-lock" 2>/dev/null; then
  (cd "$sdk/node" && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/sdk/package-lock.json "$sdk/node/.installed-lock"
fi
for f in node_sdk.mjs node_jobs.mjs node_users.mjs node_access.mjs browser.mjs page-server.mjs rp-apps.mjs hosted.mjs oidc_client.mjs two_instances.mjs; do cp "tests/sdk/$f" "$sdk/node/$f"; done

echo "== building latchkey"
cargo build --quiet --bin latchkey

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${pg_db:-}" ]; then psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (bounded) for a line matching $2 to appear in file $1 and prints it.
await_line() {
  local file=$1 pattern=$2 i
  for i in $(seq 1 300); do
    if grep -q "$pattern" "$file" 2>/dev/null; then grep -m1 "$pattern" "$file"; return 0; fi
    sleep 0.1
  done
  echo "sdk tests: timed out waiting for '$pattern' in $file" >&2
  cat "$file" >&2 || true
  return 1
}

# A private CA-less self-signed certificate for 127.0.0.1, trusted by the clients explicitly.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

(cd "$sdk/node" && exec node page-server.mjs) >"$work/pages.out" 2>&1 &
pids+=($!)
allowed=$(await_line "$work/pages.out" '^ALLOWED ' | cut -d' ' -f2)
refused=$(await_line "$work/pages.out" '^REFUSED ' | cut -d' ' -f2)
spa=$(await_line "$work/pages.out" '^SPA ' | cut -d' ' -f2)
(cd "$sdk/node" && LK_ISSUER_FILE="$work/issuer" TLS_CERT="$work/cert.pem" TLS_KEY="$work/key.pem" NODE_EXTRA_CA_CERTS="$work/cert.pem" \
  exec node rp-apps.mjs) >"$work/rp.out" 2>&1 &
pids+=($!)
rp_code=$(await_line "$work/rp.out" '^RP_CODE ' | cut -d' ' -f2)
rp_implicit=$(await_line "$work/rp.out" '^RP_IMPLICIT ' | cut -d' ' -f2)

cat >"$work/tenant.yaml" <<YAML
tenant:
  friendly_name: SDK tests
  default_directory: Username-Password-Authentication
clients:
  - name: Backend
    client_id: sdk-backend
    client_secret: sdk-backend-secret
    app_type: regular_web
    token_endpoint_ip_header_trusted: true
  - name: SPA
    client_id: sdk-spa
    app_type: spa
    web_origins: ["$allowed"]
  - name: Hosted SPA
    client_id: sdk-hosted-spa
    app_type: spa
    web_origins: ["$spa"]
    callbacks: ["$spa/callback"]
    allowed_logout_urls: ["$spa/"]
  - name: RWA code
    client_id: sdk-rwa-code
    client_secret: sdk-rwa-secret
    app_type: regular_web
    callbacks: ["$rp_code/callback"]
    allowed_logout_urls: ["$rp_code"]
  - name: RWA openid-client
    client_id: sdk-oidc-client
    client_secret: sdk-oidc-secret
    app_type: regular_web
    callbacks: ["https://rp.example/callback"]
    allowed_logout_urls: ["https://rp.example/bye"]
  - name: Legacy SPA
    client_id: sdk-legacy-spa
    app_type: spa
    web_origins: ["$allowed"]
    callbacks: ["$allowed/"]
    allowed_logout_urls: ["$allowed/"]
  - name: RWA implicit
    client_id: sdk-rwa-implicit
    app_type: regular_web
    callbacks: ["$rp_implicit/callback"]
    allowed_logout_urls: ["$rp_implicit"]
  - name: Reader
    client_id: sdk-reader
    client_secret: sdk-reader-secret
    grant_types: [client_credentials]
client_grants:
  - client_id: Backend
    audience: management
    scope: [read:users, create:users, update:users, delete:users, read:emails, read:roles, create:roles, update:roles, delete:roles, read:client_grants, create:client_grants, update:client_grants, delete:client_grants, read:logs, read:logs_users]
  - client_id: Reader
    audience: management
    scope: [read:users]
connections:
  - name: Username-Password-Authentication
    enabled_clients: [Backend, SPA, Hosted SPA, RWA code, RWA implicit, RWA openid-client, Legacy SPA]
    options: { passwordPolicy: good, password_history: { enable: true, size: 3 } }
  - name: with-usernames
    enabled_clients: [Backend]
    options: { passwordPolicy: good, requires_username: true }
YAML

./target/debug/latchkey serve --listen 127.0.0.1:0 --database-url "sqlite://$work/latchkey.db" \
  --tenant-file "$work/tenant.yaml" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --log-format json >"$work/latchkey.out" 2>"$work/latchkey.log" &
pids+=($!)
base=$(await_line "$work/latchkey.out" 'listening on' | grep -o 'https://[0-9.:]*' | head -1)
domain=${base#https://}
echo "$base/" >"$work/issuer"
echo "== latchkey at $base, pages at $allowed (listed) and $refused (not listed)"

passed=0
failed=0
run() {
  local name=$1; shift
  # SDK_ONLY=name runs one group (while working on it).
  if [ -n "${SDK_ONLY:-}" ] && [ "$SDK_ONLY" != "$name" ]; then return; fi
  local out
  if out=$("$@" 2>&1); then :; fi
  echo "$out"
  local p f
  p=$(echo "$out" | grep -Eo '[0-9]+ passed' | tail -1 | cut -d' ' -f1 || true)
  f=$(echo "$out" | grep -Eo '[0-9]+ failed' | tail -1 | cut -d' ' -f1 || true)
  if [ -z "$p" ]; then echo "  FAIL $name: did not report results"; failed=$((failed + 1)); return; fi
  passed=$((passed + p)); failed=$((failed + ${f:-0}))
}

curl_test() {
  # Auth0's documented curl, verbatim but for the host (and a real client id and password).
  local body status
  body=$(curl --silent --show-error --cacert "$work/cert.pem" --request POST \
    --url "https://$domain/dbconnections/signup" --header 'content-type: application/json' \
    --write-out '\n%{http_code}' \
    --data '{"client_id":"sdk-backend","email":"test.account@signup.com","password":"Passw0rd!","connection":"with-usernames","username":"johndoe","given_name":"John","family_name":"Doe","name":"John Doe","nickname":"johnny","picture":"http://example.org/jdoe.png","user_metadata":{"plan":"silver","team_id":"a111"}}')
  status=$(echo "$body" | tail -1)
  body=$(echo "$body" | head -n -1)
  local ok=0 bad=0
  if [ "$status" = 200 ] && echo "$body" | grep -q '"username":"johndoe"' && echo "$body" | grep -q '"email":"test.account@signup.com"'; then
    echo "  ok   curl: the documented signup curl answers 200 with the user"; ok=$((ok + 1))
  else
    echo "  FAIL curl: $status $body"; bad=$((bad + 1))
  fi
  echo "curl: $ok passed, $bad failed"
}

run curl curl_test
run python env REQUESTS_CA_BUNDLE="$work/cert.pem" LK_DOMAIN="$domain" LK_CLIENT_ID=sdk-backend LK_CLIENT_SECRET=sdk-backend-secret \
  LK_CONNECTION=Username-Password-Authentication "$sdk/venv/bin/python" tests/sdk/python_sdk.py
run node env NODE_EXTRA_CA_CERTS="$work/cert.pem" LK_DOMAIN="$domain" LK_CLIENT_ID=sdk-backend LK_CLIENT_SECRET=sdk-backend-secret \
  LK_CONNECTION=Username-Password-Authentication node "$sdk/node/node_sdk.mjs"
# The Management API's jobs through node-auth0's ManagementClient. The connection's id is
# derived from its name (docs/api.md): con_ + 16 hex characters of SHA-256.
conn_id="con_$(printf 'latchkey connection %s' Username-Password-Authentication | sha256sum | cut -c1-16)"
run node-jobs env NODE_EXTRA_CA_CERTS="$work/cert.pem" LK_DOMAIN="$domain" LK_CLIENT_ID=sdk-backend \
  LK_CLIENT_SECRET=sdk-backend-secret LK_CONNECTION=Username-Password-Authentication LK_CONNECTION_ID="$conn_id" \
  node "$sdk/node/node_jobs.mjs"
run node-users env NODE_EXTRA_CA_CERTS="$work/cert.pem" LK_DOMAIN="$domain" LK_CLIENT_ID=sdk-backend \
  LK_CLIENT_SECRET=sdk-backend-secret LK_CONNECTION=Username-Password-Authentication LK_READER_ID=sdk-reader \
  LK_READER_SECRET=sdk-reader-secret node "$sdk/node/node_users.mjs"
run node-access env NODE_EXTRA_CA_CERTS="$work/cert.pem" LK_DOMAIN="$domain" LK_CLIENT_ID=sdk-backend \
  LK_CLIENT_SECRET=sdk-backend-secret LK_CONNECTION=Username-Password-Authentication LK_OTHER_ID=sdk-oidc-client \
  LK_OTHER_SECRET=sdk-oidc-secret node "$sdk/node/node_access.mjs"
run python-management env REQUESTS_CA_BUNDLE="$work/cert.pem" SSL_CERT_FILE="$work/cert.pem" LK_DOMAIN="$domain" LK_CLIENT_ID=sdk-backend \
  LK_CLIENT_SECRET=sdk-backend-secret LK_CONNECTION=Username-Password-Authentication \
  "$sdk/venv/bin/python" tests/sdk/python_management.py
run browser env LK_DOMAIN="$domain" LK_SPA_CLIENT_ID=sdk-spa LK_CONNECTION=Username-Password-Authentication \
  PAGE_ALLOWED="$allowed" PAGE_REFUSED="$refused" CHROMIUM="$chromium" node "$sdk/node/browser.mjs"
screenshots=${LATCHKEY_SCREENSHOTS:-$root/target/screenshots}
run hosted env LK_DOMAIN="$domain" LK_SPA_CLIENT_ID=sdk-hosted-spa SPA="$spa" RP_CODE="$rp_code" \
  LK_LEGACY_CLIENT_ID=sdk-legacy-spa PAGE_ALLOWED="$allowed" LK_BACKEND_SECRET=sdk-backend-secret \
  RP_IMPLICIT="$rp_implicit" SCREENSHOTS="$screenshots" CHROMIUM="$chromium" LK_DB="$work/latchkey.db" \
  NODE_EXTRA_CA_CERTS="$work/cert.pem" node "$sdk/node/hosted.mjs"
echo "== screenshots of the hosted pages: $screenshots"
oidc_user="oidc-$(date +%s%N)@example.com"
curl --silent --cacert "$work/cert.pem" --output /dev/null --url "https://$domain/dbconnections/signup" \
  --header 'content-type: application/json' \
  --data "{\"client_id\":\"sdk-oidc-client\",\"email\":\"$oidc_user\",\"password\":\"Passw0rd!\",\"connection\":\"Username-Password-Authentication\"}"
run openid-client env LK_DOMAIN="$domain" LK_EMAIL="$oidc_user" NODE_EXTRA_CA_CERTS="$work/cert.pem" \
  node "$sdk/node/oidc_client.mjs"

# Email over SMTP: a real server (aiosmtpd, STARTTLS, AUTH required) and an instance
# delivering to it. rustls wants a CA apart from the server's certificate: a test CA signs
# the SMTP server's, and lettre trusts the CA through SSL_CERT_FILE.
mkdir -p "$work/mail"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=latchkey test CA" \
  -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$work/smtp-key.pem" \
  -out "$work/smtp.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$work/smtp.ext"
openssl x509 -req -in "$work/smtp.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -CAcreateserial -days 2 -extfile "$work/smtp.ext" -out "$work/smtp-cert.pem" 2>/dev/null
MAIL_DIR="$work/mail" TLS_CERT="$work/smtp-cert.pem" TLS_KEY="$work/smtp-key.pem" \
  "$sdk/venv/bin/python" tests/sdk/smtp_server.py >"$work/smtp.out" 2>&1 &
pids+=($!)
smtp_port=$(await_line "$work/smtp.out" '^SMTP ' | cut -d' ' -f2)
SSL_CERT_FILE="$work/ca.pem" ./target/debug/latchkey serve --listen 127.0.0.1:0 \
  --database-url "sqlite://$work/smtp.db" --tenant-file "$work/tenant.yaml" \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --log-format json \
  --smtp-url "smtp://mailer:mail-secret@127.0.0.1:$smtp_port?tls=required" \
  >"$work/smtp-lk.out" 2>>"$work/latchkey.log" &
pids+=($!)
smtp_base=$(await_line "$work/smtp-lk.out" 'listening on' | grep -o 'https://[0-9.:]*' | head -1)
run smtp env REQUESTS_CA_BUNDLE="$work/cert.pem" LK_DOMAIN="${smtp_base#https://}" LK_CLIENT_ID=sdk-backend \
  MAIL_DIR="$work/mail" "$sdk/venv/bin/python" tests/sdk/smtp_check.py

# Implicit TLS, plain SMTP, the server down and refusing: each against its own instance.
run smtp-modes env SSL_CERT_FILE="$work/ca.pem" TLS_CERT="$work/smtp-cert.pem" TLS_KEY="$work/smtp-key.pem" \
  LATCHKEY="$root/target/debug/latchkey" "$sdk/venv/bin/python" tests/sdk/smtp_modes.py

# Two more instances, on one PostgreSQL database, with the same tenant and both delivering to
# the SMTP server: a login through one, silent auth and logout through the other; emails
# queued on both, each delivered once; and an instance killed with SIGKILL after queuing an
# email delivers it after its restart.
pg=${LATCHKEY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}
pg_db="lk_sdk_$(date +%s)_$$"
if command -v psql >/dev/null && psql "$pg/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null 2>&1; then
  for i in a b; do
    SSL_CERT_FILE="$work/ca.pem" ./target/debug/latchkey serve --listen 127.0.0.1:0 \
      --database-url "$pg/$pg_db" --tenant-file "$work/tenant.yaml" \
      --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --log-format json \
      --smtp-url "smtp://mailer:mail-secret@127.0.0.1:$smtp_port?tls=required" \
      >"$work/pg-$i.out" 2>>"$work/latchkey.log" &
    pids+=($!)
    # B starts once A listens (concurrent starts are safe, and tested in tests/api).
    await_line "$work/pg-$i.out" 'listening on' >/dev/null
  done
  pg_a=$(grep -o 'https://[0-9.:]*' "$work/pg-a.out" | head -1)
  pg_b=$(grep -o 'https://[0-9.:]*' "$work/pg-b.out" | head -1)
  two_user="two-$(date +%s%N)@example.com"
  curl --silent --cacert "$work/cert.pem" --output /dev/null --url "$pg_a/dbconnections/signup" \
    --header 'content-type: application/json' \
    --data "{\"client_id\":\"sdk-oidc-client\",\"email\":\"$two_user\",\"password\":\"Passw0rd!\",\"connection\":\"Username-Password-Authentication\"}"
  run two-instances env LK_A="$pg_a" LK_B="$pg_b" LK_EMAIL="$two_user" NODE_EXTRA_CA_CERTS="$work/cert.pem" \
    node "$sdk/node/two_instances.mjs"
  # kill -9: an instance without SMTP queues a message, dies, and restarts with SMTP.
  killed_user="killed-$(date +%s%N)@example.com"
  start_c() {
    SSL_CERT_FILE="$work/ca.pem" ./target/debug/latchkey serve --listen 127.0.0.1:0 \
      --database-url "sqlite://$work/killed.db" --tenant-file "$work/tenant.yaml" \
      --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --log-format json "$@" \
      >"$work/killed.out" 2>>"$work/latchkey.log" &
    c_pid=$!
    pids+=($c_pid)
    c_base=$(await_line "$work/killed.out" 'listening on' | grep -o 'https://[0-9.:]*' | head -1)
  }
  start_c
  curl --silent --cacert "$work/cert.pem" --output /dev/null --url "$c_base/dbconnections/signup" \
    --header 'content-type: application/json' \
    --data "{\"client_id\":\"sdk-backend\",\"email\":\"$killed_user\",\"password\":\"Passw0rd!\",\"connection\":\"Username-Password-Authentication\"}"
  queued_before=$(grep -c 'password-change email queued' "$work/latchkey.log" || true)
  curl --silent --cacert "$work/cert.pem" --output /dev/null --url "$c_base/dbconnections/change_password" \
    --header 'content-type: application/json' \
    --data "{\"client_id\":\"sdk-backend\",\"email\":\"$killed_user\",\"connection\":\"Username-Password-Authentication\"}"
  # Queued (committed) once the log says so: the write follows the answer. Bounded.
  for _ in $(seq 1 100); do
    [ "$(grep -c 'password-change email queued' "$work/latchkey.log" || true)" -gt "$queued_before" ] && break
    sleep 0.1
  done
  kill -9 "$c_pid"
  wait "$c_pid" 2>/dev/null || true
  : >"$work/killed.out"
  start_c --smtp-url "smtp://mailer:mail-secret@127.0.0.1:$smtp_port?tls=required"
  run delivery env LK_A="$pg_a" LK_B="$pg_b" LK_CA="$work/cert.pem" MAIL_DIR="$work/mail" \
    KILLED_USER="$killed_user" "$sdk/venv/bin/python" tests/sdk/smtp_once.py
elif [ "${LATCHKEY_REQUIRE_POSTGRES:-0}" = 1 ]; then
  echo "  FAIL two-instances: no PostgreSQL at $pg"; failed=$((failed + 1))
else
  echo "  skip two-instances: no PostgreSQL at $pg (set LATCHKEY_TEST_POSTGRES)"
fi

# Development without SMTP (the loopback issuer of the killed instance's first run): the log
# shows the link of each kept email.
if [ -z "${SDK_ONLY:-}" ] && [ -n "${killed_user:-}" ]; then
  if grep -q 'email kept in the outbox (no SMTP configured); its link: https://127.0.0.1' "$work/latchkey.log"; then
    echo "  ok   logs: without SMTP on a loopback issuer, the log shows the email's link"; passed=$((passed + 1))
  else
    echo "  FAIL logs: no development notice with the link"; failed=$((failed + 1))
  fi
fi
if grep -q 'Passw0rd!' "$work/latchkey.log"; then
  echo "  FAIL logs: a password appears in the server log"; failed=$((failed + 1))
else
  echo "  ok   logs: no password in the server log"; passed=$((passed + 1))
fi
# JWTs start with eyJ; the client secret is known; refresh tokens are never logged either (they
# would only appear next to a JWT or a secret in the same code paths).
if grep -Eq 'eyJ[A-Za-z0-9_-]{10,}|sdk-backend-secret|sdk-rwa-secret|sdk-oidc-secret|mail-secret' "$work/latchkey.log"; then
  echo "  FAIL logs: a token or client secret appears in the server log"; failed=$((failed + 1))
else
  echo "  ok   logs: no token or client secret in the server log"; passed=$((passed + 1))
fi

echo
echo "sdk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
