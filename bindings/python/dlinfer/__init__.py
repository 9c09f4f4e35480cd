"""dlinfer: run Keras models through libdlinfer.so (ctypes, NumPy in and out).

    import dlinfer
    model = dlinfer.Model("model.h5")                # or Model("arch.json", weights_path="w.h5")
    probs, = model.run([x])                           # list (or dict by input name) of arrays
    probs = model(x)                                  # shorthand for one input, one output
    img = dlinfer.load_image("cat.jpg", 224, 224, mode="tf")

The library is found from $DLINFER_LIB, then the copy `pip install ./bindings/python` bundles in the
package (dlinfer/lib), then the repository's build folders (.build/release, .build/debug).
dlinfer.__version__ is the library's dl_version().
"""
from ._library import DLInferError, library_path, version
from ._model import Model, ProfileEntry, TensorInfo
from ._image import load_image, decode_image, PREPROCESS_MODES

__all__ = ["Model", "ProfileEntry", "TensorInfo", "DLInferError", "load_image", "decode_image", "PREPROCESS_MODES",
           "library_path", "version"]


def __getattr__(name):
    # Read from the library when asked, so importing dlinfer does not load it.
    if name == "__version__":
        return version()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
