#!/usr/bin/env bash
# Builds dlinfer and runs every test: Swift tests, the C ABI test and sample, the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
swift build -c release
swift build -c release --build-tests
swift test -c release --skip-build
make -C bindings/c test
python3 -m pytest -q bindings/python/tests
