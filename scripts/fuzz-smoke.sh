#!/usr/bin/env bash
# A short run of every cargo-fuzz target (fuzz/fuzz_targets) over the committed corpus, on
# the stable toolchain without a sanitizer. Fails if any target crashes, panics or hangs.
#
# New inputs go to a temporary directory, so the committed corpus is read, never changed.
# FUZZ_SECONDS sets the time per target (default 15). CARGO_TARGET_DIR is used if set,
# else fuzz/target.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-15}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

fuzz=(cargo fuzz)
opts=(--sanitizer none --target-dir "$target_dir")

"${fuzz[@]}" build "${opts[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in $("${fuzz[@]}" list); do
    mkdir -p "$scratch/$target"
    echo "fuzz: $target (${seconds}s)"
    # The first corpus directory receives new inputs; the committed one is only read.
    if ! "${fuzz[@]}" run "${opts[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=0 \
        >"$scratch/$target.log" 2>&1; then
        failed+=("$target")
        tail -n 40 "$scratch/$target.log"
    else
        grep -E '^Done [0-9]+ runs' "$scratch/$target.log" || true
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (crashing inputs are in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: every target ran clean"
