"""Locating and declaring libdlinfer.so (the C ABI of include/dlinfer.h)."""
import ctypes
import os
from pathlib import Path

MAX_RANK = 8
ABI_VERSION = 4  # DL_ABI_VERSION of the include/dlinfer.h these bindings follow
FLOAT32, INT32 = 1, 2

STATUS_NAMES = {
    0: "DL_OK", 1: "DL_ERR_INVALID_ARGUMENT", 2: "DL_ERR_IO", 3: "DL_ERR_FORMAT", 4: "DL_ERR_UNSUPPORTED",
    5: "DL_ERR_WEIGHTS", 6: "DL_ERR_SHAPE", 7: "DL_ERR_DTYPE", 8: "DL_ERR_INTERNAL",
}


class DLInferError(RuntimeError):
    """A failed dlinfer call: `status` is the C status name, str(e) the engine's message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = STATUS_NAMES.get(status, str(status))
        self.code = status


class TensorInfoC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK)]


class InputC(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64))]


class OutputViewC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK), ("data", ctypes.POINTER(ctypes.c_float)),
                ("count", ctypes.c_size_t)]


class SessionOptionsC(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("profile", ctypes.c_int32), ("num_threads", ctypes.c_int32)]


class ProfileEntryC(ctypes.Structure):
    _fields_ = [("op", ctypes.c_char_p), ("layers", ctypes.c_char_p), ("total_ms", ctypes.c_double),
                ("runs", ctypes.c_int64), ("flops", ctypes.c_double)]


class LoadOptionsC(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("keras_version", ctypes.c_char_p), ("max_weight_bytes", ctypes.c_uint64)]


def c_string(value, what):
    """A path (str, bytes or os.PathLike) or other string argument as the NUL-terminated bytes the C
    calls take; a NUL inside would silently cut it short, so it is refused."""
    b = os.fsencode(value)
    if b"\0" in b:
        raise ValueError("%s contains a NUL character: %r" % (what, value))
    return b


def _candidates():
    """$DLINFER_LIB if set (and nothing else); else the copy bundled by `pip install` (dlinfer/lib),
    then the build folders of the repository this package sits in (.build/release, .build/debug)."""
    env = os.environ.get("DLINFER_LIB")
    if env:
        yield Path(env)
        return
    here = Path(__file__).resolve().parent
    yield here / "lib" / "libdlinfer.so"
    root = here.parents[2]
    for build in ("release", "debug"):
        yield root / ".build" / build / "libdlinfer.so"


def library_path():
    for p in _candidates():
        if p.is_file():
            return p
    if os.environ.get("DLINFER_LIB"):
        raise OSError("libdlinfer.so not found: DLINFER_LIB=%s is not a file" % os.environ["DLINFER_LIB"])
    raise OSError("libdlinfer.so not found (looked in: " + ", ".join(str(p) for p in _candidates()) + "): "
                  "set DLINFER_LIB to the library, or in the dlinfer repository run `swift build -c release` "
                  "(then `python3 -m pip install ./bindings/python` bundles it into the installed package)")


def _declare(lib):
    P = ctypes.POINTER
    vp = ctypes.c_void_p
    sig = {
        "dl_version": (ctypes.c_char_p, []),
        "dl_abi_version": (ctypes.c_int32, []),
        "dl_last_error": (ctypes.c_char_p, []),
        "dl_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, P(LoadOptionsC), P(vp)]),
        "dl_model_load_memory": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                                P(LoadOptionsC), P(vp)]),
        "dl_model_release": (None, [vp]),
        "dl_model_input_count": (ctypes.c_int, [vp, P(ctypes.c_size_t)]),
        "dl_model_output_count": (ctypes.c_int, [vp, P(ctypes.c_size_t)]),
        "dl_model_input_info": (ctypes.c_int, [vp, ctypes.c_size_t, P(TensorInfoC)]),
        "dl_model_output_info": (ctypes.c_int, [vp, ctypes.c_size_t, P(TensorInfoC)]),
        "dl_session_create": (ctypes.c_int, [vp, P(vp)]),
        "dl_session_create_with_options": (ctypes.c_int, [vp, P(SessionOptionsC), P(vp)]),
        "dl_session_profile_count": (ctypes.c_int, [vp, P(ctypes.c_size_t)]),
        "dl_session_profile_entry": (ctypes.c_int, [vp, ctypes.c_size_t, P(ProfileEntryC)]),
        "dl_session_profile_reset": (ctypes.c_int, [vp]),
        "dl_session_release": (None, [vp]),
        "dl_session_run": (ctypes.c_int, [vp, ctypes.c_size_t, P(InputC)]),
        "dl_session_output": (ctypes.c_int, [vp, ctypes.c_size_t, P(OutputViewC)]),
        "dl_session_output_copy": (ctypes.c_int, [vp, ctypes.c_size_t, vp, ctypes.c_size_t]),
        "dl_image_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                         ctypes.c_int, P(ctypes.c_float), ctypes.c_size_t]),
        "dl_image_decode": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int32,
                                           ctypes.c_int32, ctypes.c_int, P(ctypes.c_float), ctypes.c_size_t]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


_lib = None


def lib():
    global _lib
    if _lib is None:
        _lib = _declare(ctypes.CDLL(str(library_path())))
        if _lib.dl_abi_version() < ABI_VERSION:
            raise OSError("libdlinfer.so ABI version %d, these bindings need %d" % (_lib.dl_abi_version(), ABI_VERSION))
    return _lib


def check(status):
    if status != 0:
        raise DLInferError(status, lib().dl_last_error().decode("utf-8", "replace"))


def version():
    return lib().dl_version().decode()
