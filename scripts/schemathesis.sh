#!/usr/bin/env bash
# Runs schemathesis (PyPI) with every check against /openapi.json of a live herald built
# from this tree, on a throwaway data dir. Usage: scripts/schemathesis.sh [extra args]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore schemathesis
cargo build --quiet --bin herald
bin="${CARGO_TARGET_DIR:-target}/debug/herald"
data=$(mktemp -d)
key="schemathesis-admin-key-0123456789"
HERALD_ADMIN_KEY="$key" "$bin" serve --listen 127.0.0.1:8798 --data-dir "$data" >"$data/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:8798/readyz >/dev/null && break; sleep 0.2; done
# The SSE stream never ends by design, so it is left to the pull tests. Long polls may wait
# up to 30 s, hence the timeouts.
schemathesis run http://127.0.0.1:8798/openapi.json -H "Authorization: Bearer $key" \
  --checks all --max-examples 100 --request-timeout 40 --max-response-time 35 \
  --exclude-path '/v1/endpoints/{id}/stream' "$@"
if grep -q panicked "$data/log"; then echo "herald panicked during the run"; exit 1; fi
