#!/usr/bin/env bash
# Builds paychan-wasm for the browser and Node into js/wasm/ (wasm-bindgen --target web: the
# same files load in a page and, read from disk, in Node), then the js/ package (tsc) into
# js/dist/. Installs what it needs if missing: the wasm32 target, wasm-bindgen-cli at exactly
# the version Cargo.lock pins for wasm-bindgen, and js/'s npm packages (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    echo "== cargo install wasm-bindgen-cli $want (found: ${have:-none})"
    # Not --locked: the lock file wasm-bindgen-cli ships pins a webpki-roots release the
    # registry no longer serves; its own pinned version is what must match.
    cargo install wasm-bindgen-cli --version "=$want"
fi
target_dir="${CARGO_TARGET_DIR:-target}"
echo "== cargo build -p paychan-wasm --target wasm32-unknown-unknown --profile wasm"
cargo build -p paychan-wasm --target wasm32-unknown-unknown --profile wasm --locked
rm -rf js/wasm
wasm-bindgen --target web --out-dir js/wasm \
    "$target_dir/wasm32-unknown-unknown/wasm/paychan_wasm.wasm"
if [ ! -f js/node_modules/.package-lock.json ] \
    || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
    echo "== npm ci in js/ (typescript, playwright-core; pinned)"
    (cd js && npm ci --no-audit --no-fund)
fi
(cd js && npm run --silent build)
wasm=js/wasm/paychan_wasm_bg.wasm
echo "== $wasm: $(wc -c < "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
