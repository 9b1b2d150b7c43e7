#!/usr/bin/env bash
# The tests on a fresh machine: installs what they need beside the Rust toolchain (the pinned
# anvil, solc and OpenZeppelin from npm into contracts/node_modules; the aa-channels
# conformance client's `ws` into tests/aa-conformance/node_modules; playwright-core into
# tests/dashboard/node_modules for the dashboard's browser test; Python's websockets for the
# example payment handler; Debian's haproxy for the high-availability test), then runs
# `cargo test --workspace` with any extra arguments.
# Needs Node.js >= 20 with npm and python3 with pip, and the servers of paychan-store's tests
# (PostgreSQL at 127.0.0.1:5432, trust, database `test`; MariaDB at 127.0.0.1:3306, root with
# an empty password); CI's machine runs both.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f contracts/node_modules/.package-lock.json ] \
    || [ contracts/package-lock.json -nt contracts/node_modules/.package-lock.json ]; then
    echo "== npm ci in contracts/ (anvil, solc, OpenZeppelin; pinned)"
    (cd contracts && npm ci --no-audit --no-fund)
fi
if [ ! -f tests/aa-conformance/node_modules/.package-lock.json ] \
    || [ tests/aa-conformance/package-lock.json -nt tests/aa-conformance/node_modules/.package-lock.json ]; then
    echo "== npm ci in tests/aa-conformance/ (ws; pinned)"
    (cd tests/aa-conformance && npm ci --no-audit --no-fund)
fi
if [ ! -f tests/dashboard/node_modules/.package-lock.json ] \
    || [ tests/dashboard/package-lock.json -nt tests/dashboard/node_modules/.package-lock.json ]; then
    echo "== npm ci in tests/dashboard/ (playwright-core; pinned)"
    (cd tests/dashboard && npm ci --no-audit --no-fund)
fi
if ! command -v haproxy >/dev/null; then
    # The high-availability deployment test puts three fronts behind a real haproxy.
    echo "== apt-get install haproxy (Debian's package)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq haproxy
fi
if ! python3 -c "import websockets" 2>/dev/null; then
    echo "== pip install -r examples/requirements.txt"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        -r examples/requirements.txt
fi
exec cargo test --workspace --locked "$@"
