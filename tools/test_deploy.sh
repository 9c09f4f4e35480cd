#!/usr/bin/env bash
# Deployment test: what tools/install.sh and `pip install ./bindings/python` produce works without
# the Swift toolchain.
#   1. installs into a temporary prefix (twice: the install is idempotent) and checks the layout;
#   2. libdlinfer.so exports exactly the functions of include/dlinfer.h, and neither it nor the
#      installed tools need a Swift runtime library;
#   3. builds bindings/c/classify.c with `pkg-config --cflags --libs dlinfer` against the prefix;
#   4. pip-installs the Python package into a fresh venv (offline);
#   5. with the toolchain hidden (a private mount namespace with an empty tmpfs over it), runs the
#      C sample and dlbench on the demo model, and a Python check from outside the repository.
# Needs root (or unprivileged user namespaces) for unshare; fails rather than skips without it.
#   DLINFER_SCRATCH_PATH: SwiftPM build folder to test (default .build), as for tools/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$SECONDS
fail() { echo "test_deploy: FAIL: $*" >&2; exit 1; }

scratch=${DLINFER_SCRATCH_PATH:-$root/.build}
tmp=$(mktemp -d /tmp/dlinfer-deploy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
version=$(sed -n 's/^public let dlinferVersion = "\([^"]*\)".*/\1/p' Sources/DLInfer/API/Version.swift)

# Where the toolchain and the Swift runtime live (hidden in step 5).
command -v swift >/dev/null || fail "swift is not on PATH"
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
runtime_dir=$(swift -print-target-info | python3 -c 'import json, sys; print(json.load(sys.stdin)["paths"]["runtimeLibraryPaths"][0])')
[ -f "$runtime_dir/libswiftCore.so" ] || fail "libswiftCore.so not found in $runtime_dir"
hide=("$toolchain")
case "$runtime_dir/" in "$toolchain"/*) ;; *) hide+=("$runtime_dir") ;; esac

# unshare must work: this test proves the toolchain is not needed, it does not skip that proof.
unshare_cmd=(unshare -m)
if [ "$(id -u)" -ne 0 ]; then unshare_cmd=(unshare -r -m); fi
if ! "${unshare_cmd[@]}" true 2>"$tmp/unshare.err"; then
    fail "'${unshare_cmd[*]}' does not work here ($(cat "$tmp/unshare.err")); run as root or enable" \
         "unprivileged user namespaces (kernel.unprivileged_userns_clone=1)"
fi

echo "== install into $prefix (twice)"
bash tools/install.sh "$prefix" >"$tmp/install1.log" 2>&1 || { cat "$tmp/install1.log"; fail "install.sh"; }
(cd "$prefix" && find . -printf '%p %y %l %m\n' | sort) >"$tmp/tree1"
bash tools/install.sh "$prefix" >"$tmp/install2.log" 2>&1 || { cat "$tmp/install2.log"; fail "install.sh (again)"; }
(cd "$prefix" && find . -printf '%p %y %l %m\n' | sort) >"$tmp/tree2"
cmp -s "$tmp/tree1" "$tmp/tree2" || { diff "$tmp/tree1" "$tmp/tree2"; fail "a second install changed the layout"; }
lib="$prefix/lib/libdlinfer.so.$version"
[ -f "$lib" ] || fail "$lib missing"
cmp -s "$lib" "$scratch/release/libdlinfer.so" || fail "installed library differs from $scratch/release/libdlinfer.so"
[ "$(readlink "$prefix/lib/libdlinfer.so.0")" = "libdlinfer.so.$version" ] || fail "soname link libdlinfer.so.0"
[ "$(readlink "$prefix/lib/libdlinfer.so")" = "libdlinfer.so.0" ] || fail "dev link libdlinfer.so"
[ "$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')" = libdlinfer.so.0 ] || fail "soname is not libdlinfer.so.0"
cmp -s "$prefix/include/dlinfer.h" include/dlinfer.h || fail "installed header differs"
[ -x "$prefix/bin/dlbench" ] || fail "bin/dlbench missing"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion dlinfer)" = "$version" ] || fail "pkg-config version is not $version"
echo "   $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"
echo "   pkg-config --cflags --libs dlinfer: $(pkg-config --cflags --libs dlinfer)"

echo "== exported symbols"
sed -n 's/^[a-z].*[ *]\(dl_[a-z0-9_]*\)(.*/\1/p' include/dlinfer.h | sort -u >"$tmp/header.syms"
nm -D --defined-only --extern-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/lib.syms"
[ -s "$tmp/header.syms" ] || fail "no functions parsed from include/dlinfer.h"
if ! cmp -s "$tmp/header.syms" "$tmp/lib.syms"; then
    echo "  < declared in include/dlinfer.h, > exported by libdlinfer.so:"
    diff "$tmp/header.syms" "$tmp/lib.syms" || true
    fail "exports differ from the header (see Sources/DLInferC/dlinfer.map)"
fi
echo "   $(wc -l <"$tmp/lib.syms") exported functions = the $(wc -l <"$tmp/header.syms") of include/dlinfer.h, nothing else"

echo "== no Swift runtime dependency"
for f in "$lib" "$prefix"/bin/*; do
    if readelf -d "$f" | grep NEEDED | grep -E 'libswift|libdispatch|libFoundation|libBlocksRuntime'; then
        fail "$f needs a Swift runtime library"
    fi
    if ldd "$f" | grep -E "$runtime_dir|$toolchain|not found"; then fail "ldd $f"; fi
done
echo "   $(basename "$lib"): $(du -h "$lib" | cut -f1), needs: $(readelf -d "$lib" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"

echo "== C sample through pkg-config"
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -Werror bindings/c/classify.c -o "$tmp/classify" $(pkg-config --cflags --libs dlinfer)

echo "== pip install ./bindings/python into a fresh venv"
venv="$tmp/venv"
python3 -m venv --system-site-packages --without-pip "$venv"   # NumPy (and pip) from the system
"$venv/bin/python" -m pip --version >/dev/null 2>&1 || "$venv/bin/python" -m ensurepip -q
(
    if [ -n "${DLINFER_SCRATCH_PATH:-}" ]; then export DLINFER_LIB="$scratch/release/libdlinfer.so"; else unset DLINFER_LIB; fi
    "$venv/bin/python" -m pip install -q --no-index --disable-pip-version-check "$root/bindings/python"
) >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; fail "pip install ./bindings/python"; }

cat >"$tmp/check.py" <<'EOF'
import importlib.metadata, os, sys
import numpy as np
import dlinfer
root, want = sys.argv[1], sys.argv[2]
assert "DLINFER_LIB" not in os.environ
assert dlinfer.__file__.startswith(sys.prefix), dlinfer.__file__
assert str(dlinfer.library_path()) == os.path.join(os.path.dirname(dlinfer.__file__), "lib", "libdlinfer.so"), \
    dlinfer.library_path()
versions = (dlinfer.__version__, dlinfer.version(), importlib.metadata.version("dlinfer"), want)
assert len(set(versions)) == 1, versions
model = dlinfer.Model(os.path.join(root, "demo", "digits_cnn.h5"))
_, h, w, c = model.inputs[0].shape
x = dlinfer.load_image(os.path.join(root, "demo", "images", "13_3.jpg"), h, w, channels=c, mode="unit")
probs = model(x[None])[0]
assert int(np.argmax(probs)) == 3, probs
print("   python: dlinfer %s from %s, 13_3.jpg -> %d (%.3f)" % (dlinfer.__version__, dlinfer.library_path(),
                                                              np.argmax(probs), probs.max()))
EOF

cat >"$tmp/hidden.sh" <<EOF
set -euo pipefail
if command -v swift >/dev/null; then echo "swift still visible" >&2; exit 1; fi
[ ! -e "$runtime_dir/libswiftCore.so" ] || { echo "libswiftCore.so still visible" >&2; exit 1; }
echo "   toolchain hidden: ${hide[*]} are empty"
out=\$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/classify" "$root/demo/digits_cnn.h5" --mode unit --top 3 \
      "$root/demo/images/00_0.jpg" "$root/demo/images/13_3.jpg")
echo "\$out" | sed 's/^/   classify: /'
echo "\$out" | grep -q '00_0.jpg: 0 (' && echo "\$out" | grep -q '13_3.jpg: 3 (' || { echo "wrong classes" >&2; exit 1; }
"$prefix/bin/dlbench" "$root/demo/digits_cnn.h5" --warmup 1 --runs 5 >"$tmp/dlbench.log" 2>&1 || { cat "$tmp/dlbench.log"; exit 1; }
echo "   dlbench: ran (\$(wc -l <"$tmp/dlbench.log") lines of report)"
mkdir -p "$tmp/elsewhere" && cd "$tmp/elsewhere"
env -u DLINFER_LIB -u PYTHONPATH "$venv/bin/python" "$tmp/check.py" "$root" "$version"
EOF

echo "== without the Swift toolchain"
mounts=""
for d in "${hide[@]}"; do mounts+="mount -t tmpfs -o ro,size=4k tmpfs '$d' && "; done
"${unshare_cmd[@]}" bash -c "${mounts} bash '$tmp/hidden.sh'" || fail "running without the toolchain"

echo "test_deploy: PASS ($((SECONDS - start)) s)"
