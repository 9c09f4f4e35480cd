#!/usr/bin/env bash
# The library never executes an instruction the CPU lacks: AVX/AVX-512 code only in the kernel
# modules (objdump), and the C ABI test, the C sample and dlbench give the right answers under
# qemu-user as an AVX2-only CPU (Haswell) and a pre-AVX one (Nehalem), each picking its tier.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 tools/check_isa.py .build/release/libdlinfer.so
python3 tools/gen_kernels.py --check
command -v qemu-x86_64 >/dev/null || { echo "test_portability: qemu-x86_64 missing (tools/install_deps.sh installs qemu-user)"; exit 1; }
for cpu in Haswell-v4:avx2 Nehalem:scalar; do
    model=${cpu%%:*} tier=${cpu##*:}
    echo "== qemu-x86_64 -cpu $model (expects the $tier kernels)"
    report=$(qemu-x86_64 -cpu "$model" .build/release/dlbench demo/digits_cnn.h5 --runs 2 --warmup 1)
    grep -q "^kernels      $tier\$" <<<"$report" || { echo "$report"; echo "FAIL: dlbench did not pick $tier under $model"; exit 1; }
    qemu-x86_64 -cpu "$model" bindings/c/build/abi_test Tests/Fixtures | tail -1
    out=$(qemu-x86_64 -cpu "$model" bindings/c/build/classify demo/digits_cnn.h5 --mode unit --top 1 demo/images/00_0.jpg demo/images/13_3.jpg demo/images/07_7.jpg)
    echo "$out"
    [ "$(awk '{print $2}' <<<"$out" | tr '\n' ' ')" = "0 3 7 " ] || { echo "FAIL: wrong classes under $model"; exit 1; }
done
echo "test_portability: PASS"
