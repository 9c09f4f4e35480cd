"""PEP 517 build backend of the dlinfer Python package (pyproject.toml names it).

`python3 -m pip install ./bindings/python` builds a wheel holding the `dlinfer` package and a copy of
libdlinfer.so (as dlinfer/lib/libdlinfer.so, which the package loads first unless $DLINFER_LIB is
set). The library must be built first (`swift build -c release`, or `bash tools/install.sh PREFIX`);
$DLINFER_LIB, if set, names the library to bundle instead of .build/release/libdlinfer.so.

The wheel's version is the library's own dl_version() (Sources/DLInfer/API/Version.swift), so it
always equals dlinfer.__version__. This backend has no build requirements: setuptools as shipped
with Python 3.11 (65.5, without the `wheel` package) cannot build a wheel offline, this can.
"""
import base64
import ctypes
import hashlib
import os
import re
import sysconfig
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NAME = "dlinfer"
SUMMARY = "Run Keras models through libdlinfer.so (ctypes, NumPy in and out)"
REQUIRES_PYTHON = ">=3.8"
REQUIRES = ["numpy"]


def _library():
    env = os.environ.get("DLINFER_LIB")
    path = Path(env) if env else ROOT / ".build" / "release" / "libdlinfer.so"
    if env and not path.is_file():
        raise RuntimeError("dlinfer: DLINFER_LIB=%s (the library to bundle) is not a file" % env)
    if not path.is_file():
        raise RuntimeError(
            "dlinfer: %s not found. Build the library before installing the Python package: run "
            "`swift build -c release` in %s (or `bash tools/install.sh PREFIX`), or set DLINFER_LIB "
            "to the libdlinfer.so to bundle." % (path, ROOT))
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise RuntimeError("dlinfer: cannot load %s to read its version: %s" % (path, e)) from None
    lib.dl_version.restype = ctypes.c_char_p
    version = lib.dl_version().decode()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*([a-z0-9.+]*)", version):
        raise RuntimeError("dlinfer: %s reports version %r, not a Python package version" % (path, version))
    return path, version


def _platform_tag():
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    lib_path, version = _library()
    tag = "py3-none-" + _platform_tag()
    dist_info = "%s-%s.dist-info" % (NAME, version)
    files = []  # (arcname, bytes, unix mode)
    for src in sorted((HERE / NAME).glob("*.py")):
        files.append(("%s/%s" % (NAME, src.name), src.read_bytes(), 0o644))
    files.append(("%s/lib/libdlinfer.so" % NAME, lib_path.read_bytes(), 0o755))
    metadata = ["Metadata-Version: 2.1", "Name: " + NAME, "Version: " + version, "Summary: " + SUMMARY,
                "Requires-Python: " + REQUIRES_PYTHON] + ["Requires-Dist: " + r for r in REQUIRES]
    files.append((dist_info + "/METADATA", ("\n".join(metadata) + "\n").encode(), 0o644))
    wheel = ["Wheel-Version: 1.0", "Generator: dlinfer build_backend", "Root-Is-Purelib: false", "Tag: " + tag]
    files.append((dist_info + "/WHEEL", ("\n".join(wheel) + "\n").encode(), 0o644))
    record = [_record_line(name, data) for name, data, _ in files] + [dist_info + "/RECORD,,"]
    files.append((dist_info + "/RECORD", ("\n".join(record) + "\n").encode(), 0o644))

    wheel_name = "%s-%s-%s.whl" % (NAME, version, tag)
    target = Path(wheel_directory) / wheel_name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("dlinfer: no source distribution; the package bundles the libdlinfer.so built "
                       "from the repository: build a wheel (`python3 -m pip wheel ./bindings/python`) "
                       "or install directly (`python3 -m pip install ./bindings/python`)")
