#!/usr/bin/env bash
# Builds dlinfer and runs every test: Swift tests (Keras fixtures, passes, planner, errors), the C
# ABI test, the zero-allocation test and the C sample, the Python tests, and the deployment test
# (install, pkg-config, pip, all without the Swift toolchain).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
swift build -c release
# Tests reach engine internals (@testable), so they build in their own folder with testing
# enabled; the C and Python tests use the library exactly as shipped, from .build/release.
swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-tests
swift test -c release --skip-build --scratch-path .build-tests
make -C bindings/c test
python3 -m pytest -q bindings/python/tests
bash tools/test_deploy.sh
