#!/usr/bin/env bash
# `npm run deploy`: the real deployment to a Cloudflare account. It needs an account and
# `wrangler login` (or CLOUDFLARE_API_TOKEN); nothing here runs it in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
W=node_modules/.bin/wrangler

cat <<'STEPS'
Deploying aircall-connector needs, once per account:
  1. KV namespace:   wrangler kv namespace create STATE      -> put its id in wrangler.toml [[kv_namespaces]]
  2. Queues:         wrangler queues create aircall-connector-jobs
                     wrangler queues create aircall-connector-work
                     wrangler queues create aircall-connector-jobs-dlq
  3. R2 bucket:      wrangler r2 bucket create aircall-connector-recordings
  4. Secrets:        wrangler secret put ADMIN_TOKEN          (a long random string)
                     wrangler secret put ENCRYPTION_KEY       (openssl rand -base64 32; keep a copy:
                                                              sealed credentials cannot be opened without it)
  5. PUBLIC_BASE_URL in wrangler.toml [vars]: the URL Aircall will post to (https://...).
Then every release: wrangler deploy (builds with scripts/build.sh first).
STEPS

if [ "${1:-}" != "--yes" ]; then
  echo
  echo "Run 'npm run deploy -- --yes' to create what is missing and deploy with your account."
  exit 0
fi

bash scripts/setup.sh
$W whoami
grep -q '00000000000000000000000000000000' wrangler.toml && {
  echo "Create the KV namespace (step 1) and put its id in wrangler.toml first." >&2
  exit 1
}
for q in aircall-connector-jobs aircall-connector-work aircall-connector-jobs-dlq; do
  $W queues create "$q" 2>/dev/null || echo "queue $q exists"
done
$W r2 bucket create aircall-connector-recordings 2>/dev/null || echo "bucket exists"
for s in ADMIN_TOKEN ENCRYPTION_KEY; do
  $W secret list 2>/dev/null | grep -q "\"$s\"" || { echo "Set the $s secret: wrangler secret put $s" >&2; exit 1; }
done
$W deploy
