"""JPEG -> float array, the TensorFlow way (decode_jpeg, bilinear resize, Keras preprocessing)."""
import ctypes

import numpy as np

from ._library import c_string, check, lib

PREPROCESS_MODES = {"raw": 0, "unit": 1, "tf": 2, "caffe": 3, "torch": 4}


def _mode(mode):
    if mode not in PREPROCESS_MODES:
        raise ValueError("mode must be one of %s, got %r" % (sorted(PREPROCESS_MODES), mode))
    return PREPROCESS_MODES[mode]


def load_image(path, height, width, channels=3, mode="raw"):
    """Returns a float32 array [height, width, channels]; add a batch axis with x[None]."""
    m = _mode(mode)
    path = c_string(path, "image path")
    out = np.empty((height, width, channels), dtype=np.float32)
    check(lib().dl_image_load(path, height, width, channels, m,
                              out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
    return out


def decode_image(data, height, width, channels=3, mode="raw"):
    """Same as load_image, from JPEG bytes."""
    m = _mode(mode)
    data = bytes(data)
    out = np.empty((height, width, channels), dtype=np.float32)
    check(lib().dl_image_decode(data, len(data), height, width, channels, m,
                                out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
    return out
