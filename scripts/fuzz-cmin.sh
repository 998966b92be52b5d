#!/usr/bin/env bash
# Minimizes every fuzz target's committed corpus by edge coverage: libFuzzer's merge with
# hit counters and value profiles off, so an input stays only if it reaches code no other
# input reaches (with counters on, nearly every input survives: each loop count is a
# "feature"). Named inputs (seed-*, regression-*) are kept whatever they cover.
# Needs the targets built (`cargo fuzz build -s none`, as scripts/fuzz-smoke.sh does).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

bin="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target"
    "$bin/$target" -merge=1 -use_counters=0 -use_value_profile=0 \
        "$scratch/$target" "corpus/$target" >"$scratch/$target.log" 2>&1
    find "corpus/$target" -type f \( -name 'seed-*' -o -name 'regression-*' \) \
        -exec cp {} "$scratch/$target/" \;
    before=$(find "corpus/$target" -type f | wc -l)
    rm -rf "corpus/$target"
    mv "$scratch/$target" "corpus/$target"
    echo "cmin: $target $before -> $(find "corpus/$target" -type f | wc -l) files"
done
