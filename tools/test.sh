#!/usr/bin/env bash
# Builds dlinfer and runs every test: Swift tests (Keras fixtures, passes, planner, kernels at every
# ISA tier, threads, errors), the C ABI test, the zero-allocation test and the C sample, the Python
# tests, the deployment test (install, pkg-config, pip, all without the Swift toolchain) and the
# portability test (AVX code only in kernel modules; right answers under qemu as older CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
swift build -c release
# Tests reach engine internals (@testable), so they build in their own folder with testing
# enabled; the C and Python tests use the library exactly as shipped, from .build/release.
swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-tests
swift test -c release --skip-build --scratch-path .build-tests
# The Keras fixtures again with the lower kernel tiers (the machine's best ran above).
for tier in avx2 scalar; do
    DLINFER_ISA=$tier swift test -c release --skip-build --scratch-path .build-tests --filter "KerasFixtureTests|IntraOpThreadTests"
done
make -C bindings/c test
python3 -m pytest -q bindings/python/tests
bash tools/test_deploy.sh
bash tools/test_portability.sh
