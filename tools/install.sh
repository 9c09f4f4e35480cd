#!/usr/bin/env bash
# Installs dlinfer under PREFIX (idempotent; builds the release configuration if it is not up to date):
#   PREFIX/lib/libdlinfer.so.VERSION, its soname link libdlinfer.so.0 and the link libdlinfer.so
#   PREFIX/include/dlinfer.h
#   PREFIX/lib/pkgconfig/dlinfer.pc      (cc prog.c $(pkg-config --cflags --libs dlinfer))
#   PREFIX/bin/<every executable product of Package.swift> (dlbench, ...)
# The library and the tools carry the Swift runtime inside: they need the system libraries of
# tools/install_deps.sh (HDF5, OpenBLAS, libjpeg, zlib) but not the Swift toolchain.
#   usage: bash tools/install.sh PREFIX
#   DLINFER_SCRATCH_PATH: SwiftPM build folder to build in and install from (default .build)
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: bash tools/install.sh PREFIX" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
scratch=${DLINFER_SCRATCH_PATH:-$root/.build}
bin="$scratch/release"

# The version has one home: Sources/DLInfer/API/Version.swift (dl_version() reports it).
version=$(sed -n 's/^public let dlinferVersion = "\([^"]*\)".*/\1/p' "$root/Sources/DLInfer/API/Version.swift")
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
    echo "install.sh: cannot read dlinferVersion from Sources/DLInfer/API/Version.swift (got '$version')" >&2
    exit 1
fi
# Executable products, as Package.swift declares them.
tools=$(sed -n 's/.*\.executable(name: *"\([^"]*\)".*/\1/p' "$root/Package.swift")

if command -v swift >/dev/null; then
    swift build -c release --package-path "$root" --scratch-path "$scratch"
elif [ -f "$bin/libdlinfer.so" ]; then
    echo "install.sh: no swift on PATH; installing the existing build in $bin" >&2
else
    echo "install.sh: $bin/libdlinfer.so is not built and there is no swift on PATH to build it" >&2
    exit 1
fi

soname=$(objdump -p "$bin/libdlinfer.so" | awk '$1 == "SONAME" { print $2 }')
case "$soname" in
    libdlinfer.so.[0-9]*) ;;
    *) echo "install.sh: $bin/libdlinfer.so has soname '$soname', want libdlinfer.so.N (rebuild it)" >&2
       exit 1 ;;
esac

mkdir -p "$prefix/lib/pkgconfig" "$prefix/include" "$prefix/bin"
# install(1) replaces files (new inode), so programs running the old copy are not disturbed.
install -m 755 "$bin/libdlinfer.so" "$prefix/lib/libdlinfer.so.$version"
ln -sfn "libdlinfer.so.$version" "$prefix/lib/$soname"
ln -sfn "$soname" "$prefix/lib/libdlinfer.so"
install -m 644 "$root/include/dlinfer.h" "$prefix/include/dlinfer.h"
for tool in $tools; do
    install -m 755 "$bin/$tool" "$prefix/bin/$tool"
done

# Shared linking only (no static archive is installed): the library's own dependencies are
# recorded in it (DT_NEEDED), so programs need just -ldlinfer.
cat > "$prefix/lib/pkgconfig/dlinfer.pc.tmp" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: dlinfer
Description: Inference engine for Keras models (C ABI of dlinfer.h)
Version: $version
Libs: -L\${libdir} -ldlinfer
Cflags: -I\${includedir}
EOF
mv "$prefix/lib/pkgconfig/dlinfer.pc.tmp" "$prefix/lib/pkgconfig/dlinfer.pc"

# Refresh the loader cache when installing into a directory it searches.
if [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null && \
   { [ "$prefix" = /usr/local ] || [ "$prefix" = /usr ]; }; then
    ldconfig
fi

echo "installed dlinfer $version in $prefix:"
echo "  lib/libdlinfer.so.$version ($soname, libdlinfer.so), include/dlinfer.h, lib/pkgconfig/dlinfer.pc"
echo "  bin/: $(echo $tools)"
