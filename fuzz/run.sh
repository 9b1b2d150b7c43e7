#!/usr/bin/env bash
# Runs the fuzz targets for a given time each and prints a table: target, seconds, runs,
# runs/s, coverage (libFuzzer's `cov`, covered edges), crashes.
#
#   fuzz/run.sh [-t SECONDS] [-j JOBS] [--no-build] [TARGET...]
#
# Targets: the names given, or every `[[bin]]` of fuzz/Cargo.toml whose path is under
# fuzz_targets/ (so a new target is picked up as soon as it is declared there).
# Each target starts from its committed seeds (fuzz/seeds/<target>/) and grows its own corpus
# (fuzz/corpus/<target>/, not committed), with fuzz/dict/<target>.dict when there is one.
# Crashing inputs land in fuzz/artifacts/<target>/; logs in fuzz/logs/<target>.log.
#
# Environment: PAYCHAN_FUZZ_SECONDS (default 10, or -t), PAYCHAN_FUZZ_JOBS (targets run at
# once, default 1, or -j), PAYCHAN_FUZZ_SANITIZER (default none: the project forbids unsafe
# code; `address` checks dependencies' unsafe code, slower), PAYCHAN_FUZZ_TARGET_DIR (cargo's
# target directory for the fuzz build, default fuzz/target), PAYCHAN_FUZZ_PROFILE (release,
# the default, for real runs; dev builds in about a third of the time and runs about ten
# times slower, enough for CI's smoke runs), PAYCHAN_FUZZ_CODEGEN_UNITS (default:
# cargo-fuzz's, 1). Needs cargo-fuzz; with only a stable toolchain it sets RUSTC_BOOTSTRAP=1.
# Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")"
self="$PWD/$(basename "$0")"

# The whole script is one function, read before it runs: editing this file does not disturb
# a run in progress.
main() {

seconds="${PAYCHAN_FUZZ_SECONDS:-10}"
jobs="${PAYCHAN_FUZZ_JOBS:-1}"
sanitizer="${PAYCHAN_FUZZ_SANITIZER:-none}"
build=1
targets=()
while (($#)); do
    case "$1" in
        -t) seconds="$2"; shift 2 ;;
        -j) jobs="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set /p' "$self" | sed '$d'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done

# Every [[bin]] whose path is under fuzz_targets/.
discover() {
    awk '
        /^\[\[bin\]\]/ { inbin = 1; name = ""; next }
        /^\[/ { inbin = 0 }
        inbin && /^name *=/ { gsub(/.*= *"|".*/, ""); name = $0 }
        inbin && /^path *= *"fuzz_targets\// && name != "" { print name; name = "" }
    ' Cargo.toml
}
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(discover)
fi
known=" $(discover | tr '\n' ' ') "
for t in "${targets[@]}"; do
    [[ "$known" == *" $t "* ]] || { echo "no fuzz target $t in fuzz/Cargo.toml" >&2; exit 2; }
done

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz not found: cargo install cargo-fuzz" >&2; exit 2; }
export RUSTC_BOOTSTRAP=1
target_dir="${PAYCHAN_FUZZ_TARGET_DIR:-$PWD/target}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
build_flags=(-s "$sanitizer" --target-dir "$target_dir")
case "${PAYCHAN_FUZZ_PROFILE:-release}" in
    release) bin_dir="$target_dir/$triple/release" ;;
    dev) bin_dir="$target_dir/$triple/debug"; build_flags+=(--dev) ;;
    *) echo "PAYCHAN_FUZZ_PROFILE is release or dev" >&2; exit 2 ;;
esac
[[ -n "${PAYCHAN_FUZZ_CODEGEN_UNITS:-}" ]] && build_flags+=(--codegen-units "$PAYCHAN_FUZZ_CODEGEN_UNITS")
if ((build)); then
    start=$(date +%s)
    cargo fuzz build "${build_flags[@]}" >&2
    echo "fuzz build: $(( $(date +%s) - start )) s" >&2
fi

mkdir -p logs
crashes_in() { find "artifacts/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l; }

# Runs one target; writes its row to logs/<target>.row.
run_one() {
    local t="$1" log="logs/$1.log"
    mkdir -p "corpus/$t" "artifacts/$t"
    local before; before=$(crashes_in "$t")
    local args=("corpus/$t")
    [[ -d "seeds/$t" ]] && args+=("seeds/$t")
    args+=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -artifact_prefix="artifacts/$t/")
    [[ -f "dict/$t.dict" ]] && args+=(-dict="dict/$t.dict")
    local status=0
    "$bin_dir/$t" "${args[@]}" >"$log" 2>&1 || status=$?
    local runs rate cov crashes
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(( $(crashes_in "$t") - before ))
    if ((status != 0 && crashes == 0)); then crashes=1; fi
    printf '%s %s %s %s %s %s\n' "$t" "$seconds" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$crashes" >"logs/$t.row"
    echo "done: $t (exit $status)" >&2
}

for t in "${targets[@]}"; do
    rm -f "logs/$t.row"
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
    run_one "$t" &
done
wait

failed=0
printf '%-18s %8s %12s %10s %8s %8s\n' target seconds runs runs/s coverage crashes
for t in "${targets[@]}"; do
    read -r name secs runs rate cov crashes <"logs/$t.row"
    printf '%-18s %8s %12s %10s %8s %8s\n' "$name" "$secs" "$runs" "$rate" "$cov" "$crashes"
    if [[ "$crashes" != 0 ]]; then
        failed=1
        echo "  $t crashed: see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    fi
done
exit "$failed"
}

main "$@"
