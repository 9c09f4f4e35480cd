#!/usr/bin/env bash
# Builds dlinfer and classifies the shipped held-out digit images with the shipped Keras model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
swift build -c release
python3 demo/classify_digits.py
