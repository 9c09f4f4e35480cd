#!/usr/bin/env bash
# Fuzzes the engine's parsers with libFuzzer (issue 7). Usage:
#   tools/fuzz.sh [SECONDS_PER_TARGET]        (default 60; FUZZ_TARGETS="loader json" picks targets)
# Builds Sources/dlinfer-fuzz with -sanitize=fuzzer,address (scratch path .build-fuzz), replays the
# committed regression inputs (Tests/Fuzz/regressions/<target>/), then fuzzes each target for the
# given time from its seed corpus (Tests/Fuzz/corpus/<target>/). Working corpora, logs and any
# crash/leak/timeout/OOM artifacts go to $FUZZ_OUT (default /tmp/dlinfer-fuzz). Exits nonzero if
# a target crashed, leaked, timed out or ran out of memory; the artifact path is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
TARGETS=${FUZZ_TARGETS:-"loader json zip image config"}
OUT=${FUZZ_OUT:-/tmp/dlinfer-fuzz}
SCRATCH=${FUZZ_SCRATCH:-.build-fuzz}

# ld.gold crashes (internal error in format_file_lineno) linking the instrumented binary: use lld.
swift build -c release --scratch-path "$SCRATCH" --product dlinfer-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DDLFUZZ -Xswiftc -use-ld=lld
BIN=$ROOT/$SCRATCH/release/dlinfer-fuzz
export DLFUZZ_WEIGHTS=$ROOT/Tests/Fixtures/keras3_jw_seq_cnn/model.weights.h5
# Leaks are findings too, except those inside libhdf5 itself (Tests/Fuzz/lsan.supp).
# Swift's own crash handler reads memory ASan reports as wild; libFuzzer's handler saves the input.
export SWIFT_BACKTRACE=enable=no
# allocator_may_return_null: libhdf5 asks malloc for sizes read from the file (see
# Tests/Fuzz/lsan.supp) and copes with NULL, as it gets from glibc; ASan would abort instead.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/Tests/Fuzz/lsan.supp}

mkdir -p "$OUT"
failed=()
summary=()
for t in $TARGETS; do
    dir=$OUT/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp -n "$ROOT/Tests/Fuzz/corpus/$t/"* "$dir/corpus/" 2>/dev/null || true
    case $t in
        loader|zip) max_len=32768 ;;
        config|json) max_len=16384 ;;
        image) max_len=4096 ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    if compgen -G "$ROOT/Tests/Fuzz/regressions/$t/*" >/dev/null; then
        echo "== $t: replaying regression inputs"
        if ! "$BIN" "$t" -timeout=10 -rss_limit_mb=2048 "$ROOT/Tests/Fuzz/regressions/$t/"* >"$dir/regressions.log" 2>&1; then
            echo "!! $t: a regression input fails again (see $dir/regressions.log)"
            failed+=("$t(regression)")
        fi
    fi
    echo "== $t: fuzzing for ${SECONDS_PER_TARGET}s (log $dir/fuzz.log)"
    set +e
    "$BIN" "$t" "$dir/corpus" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len=$max_len -print_final_stats=1 -artifact_prefix="$dir/artifacts/" >"$dir/fuzz.log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$dir/fuzz.log" | tail -1)
    line="$t: exit $rc, ${runs:-?} executions, ${rate:-?} exec/s, $cov, corpus $(ls "$dir/corpus" | wc -l) files"
    summary+=("$line")
    echo "   $line"
    if [ $rc -ne 0 ]; then
        failed+=("$t")
        echo "!! $t failed; artifacts:"; ls -la "$dir/artifacts/"
        grep -m3 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY' "$dir/fuzz.log" || true
    fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "no crash, leak, timeout or OOM found"
