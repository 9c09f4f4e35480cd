#!/usr/bin/env bash
# Runs the tests under sanitizers (issue 7). Usage: tools/sanitize.sh [asan|tsan]... (default both)
#   asan: AddressSanitizer + LeakSanitizer build (scratch path .build-asan, debug) running
#         - the Swift tests matching $ASAN_FILTER (default: all of them, about 20 s),
#         - bindings/c/abi_test.c built with clang -fsanitize=address against the ASan build's
#           libdlinfer.so (the .so leaves the ASan runtime to the executable: the test program
#           must be an ASan executable; LD_PRELOAD of the runtime is not needed then).
#   tsan: ThreadSanitizer build (scratch path .build-tsan, debug) running the Swift tests matching
#         $TSAN_FILTER (default all, about 45 s; "ConcurrencyTests|IntraOpThreadTests" are the
#         concurrency stress suites: shared models, multi-threaded sessions).
# Logs go to $SANITIZE_OUT (default /tmp/dlinfer-sanitize). Exits nonzero on any report or failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${SANITIZE_OUT:-/tmp/dlinfer-sanitize}
MODES=${*:-asan tsan}
ASAN_FILTER=${ASAN_FILTER:-"."}
TSAN_FILTER=${TSAN_FILTER:-"."}
CLANG=${CLANG:-$(dirname "$(command -v swift)")/clang}
mkdir -p "$OUT"
export SWIFT_BACKTRACE=enable=no
status=0

run() {  # name, command...: logs to $OUT/name.log, prints the outcome
    local name=$1; shift
    echo "== $name: $*"
    local start=$SECONDS
    "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    echo "   exit $rc after $((SECONDS - start))s (log $OUT/$name.log)"
    grep -m5 -E 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: (Address|Thread|Leak)' "$OUT/$name.log"
    if grep -q -E 'Sanitizer' "$OUT/$name.log" || [ $rc -ne 0 ]; then status=1; fi
    tail -3 "$OUT/$name.log"
}

for mode in $MODES; do
    case $mode in
    asan)
        export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
        export LSAN_OPTIONS=suppressions=$ROOT/Tests/Fuzz/lsan.supp
        run asan-build swift build --scratch-path .build-asan --build-tests -Xswiftc -sanitize=address
        run asan-build-lib swift build --scratch-path .build-asan --product dlinfer -Xswiftc -sanitize=address
        run asan-swift-tests swift test --scratch-path .build-asan --skip-build -Xswiftc -sanitize=address --filter "$ASAN_FILTER"
        lib=$(swift build --scratch-path .build-asan --show-bin-path)
        mkdir -p "$OUT/lib" && ln -sf "$lib/libdlinfer.so" "$OUT/lib/libdlinfer.so.0"
        run asan-abi-build "$CLANG" -g -O1 -fsanitize=address -Wall -Wextra -I"$ROOT/include" bindings/c/abi_test.c \
            -o "$OUT/abi_test" -L"$lib" -Wl,-rpath,"$OUT/lib" -Wl,-rpath,"$lib" -ldlinfer -ljpeg
        run asan-abi-test "$OUT/abi_test" "$ROOT/Tests/Fixtures"
        ;;
    tsan)
        unset ASAN_OPTIONS LSAN_OPTIONS
        export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1}
        run tsan-build swift build --scratch-path .build-tsan --build-tests -Xswiftc -sanitize=thread
        run tsan-swift-tests swift test --scratch-path .build-tsan --skip-build -Xswiftc -sanitize=thread --filter "$TSAN_FILTER"
        ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
done
[ $status -eq 0 ] && echo "sanitize: clean" || echo "sanitize: FINDINGS (see $OUT)"
exit $status
