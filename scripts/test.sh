#!/usr/bin/env bash
# The tests on a fresh machine: installs what they need beside the Rust toolchain (the pinned
# anvil, solc and OpenZeppelin from npm into contracts/node_modules; the aa-channels
# conformance client's `ws` into tests/aa-conformance/node_modules; playwright-core into
# tests/dashboard/node_modules for the dashboard's browser test; Python's packages for the
# examples (websockets, grpcio); Debian's haproxy for the high-availability test and Debian's
# chromium for the browser tests), then runs `cargo test --workspace` with any extra
# arguments, then the browser side: paychan-core built for wasm32 on its k256 backend, the
# paychan-wasm package (scripts/build-wasm.sh: the wasm32 target, wasm-bindgen-cli at the
# locked version, js/'s npm packages), js/'s Node tests and the browser tests in headless
# Chromium (examples/browser/: a page paying 500 calls to `paychan proxy`; a page that is a
# channel peer paying a `paychan node` 500 times through `paychan relay`, reloaded and with
# the relay killed on the way; two pages paying each other through the relay), all against
# real paychan processes.
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
# The high-availability deployment test puts three fronts behind a real haproxy; the browser
# tests drive Debian's chromium (a browser download does not work here).
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
if ((${#missing[@]})); then
    echo "== apt-get install ${missing[*]} (Debian's packages)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if ! python3 -c "import websockets, grpc, grpc_tools" 2>/dev/null; then
    echo "== pip install -r examples/requirements.txt"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        -r examples/requirements.txt
fi
cargo test --workspace --locked "$@"

echo "== paychan-core for wasm32-unknown-unknown (the k256 backend, no random source)"
rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
cargo build -p paychan-core --target wasm32-unknown-unknown --no-default-features \
    --features k256 --locked
echo "== paychan-wasm and js/ (scripts/build-wasm.sh)"
scripts/build-wasm.sh
cargo build -p paychan-cli --locked
export PAYCHAN_BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/paychan"
echo "== js/: Node tests against paychan ledger serve, node and proxy"
(cd js && npm test)
echo "== examples/browser: pay-per-call, node-channel and relay-pair in headless Chromium"
(cd js && npm run test:browser)
