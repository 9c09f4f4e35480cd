"""dlinfer: run Keras models through libdlinfer.so (ctypes, NumPy in and out).

    import dlinfer
    model = dlinfer.Model("model.h5")                # or Model("arch.json", weights_path="w.h5")
    probs, = model.run([x])                           # list (or dict by input name) of arrays
    probs = model(x)                                  # shorthand for one input, one output
    img = dlinfer.load_image("cat.jpg", 224, 224, mode="tf")

The library is found from $DLINFER_LIB, then the package's build tree (.build/release, .build/debug).
"""
from ._library import DLInferError, library_path, version
from ._model import Model, ProfileEntry, TensorInfo
from ._image import load_image, decode_image, PREPROCESS_MODES

__all__ = ["Model", "ProfileEntry", "TensorInfo", "DLInferError", "load_image", "decode_image", "PREPROCESS_MODES",
           "library_path", "version"]
