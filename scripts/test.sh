#!/usr/bin/env bash
# The project's test command: brings up what the tests need, then runs every test of the
# workspace (unit and integration) with cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

export TEST_PG_ADMIN_URL="${TEST_PG_ADMIN_URL:-postgres://sm_admin:sm_admin@127.0.0.1:5432/postgres}"
export TEST_PG_APP_USER="${TEST_PG_APP_USER:-sm_app}"
export TEST_PG_APP_PASSWORD="${TEST_PG_APP_PASSWORD:-sm_app}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
profile=default
[ "${CI:-}" = "true" ] && profile=ci
cargo nextest run --workspace --profile "$profile" "$@"
