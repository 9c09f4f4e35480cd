"""Model: load once, run many times (one session per Model object, not shared across threads)."""
import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from ._library import (FLOAT32, INT32, InputC, LoadOptionsC, OutputViewC, ProfileEntryC, SessionOptionsC, TensorInfoC,
                       check, lib)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: np.dtype
    shape: tuple  # None for dimensions fixed at run time (the batch)


@dataclass(frozen=True)
class ProfileEntry:
    op: str          # the op and its algorithm
    layers: str      # the Keras layer(s) it came from
    total_ms: float  # summed over `runs` runs
    runs: int
    flops: float     # per run (0 where not counted)


def _info(c):
    shape = tuple(None if c.shape[i] < 0 else int(c.shape[i]) for i in range(c.rank))
    return TensorInfo(c.name.decode(), np.dtype(np.int32 if c.dtype == INT32 else np.float32), shape)


class Model:
    """A Keras model loaded by dlinfer.

    Model(path) loads a full-model .h5 or a .keras archive; Model(json_path, weights_path=...)
    loads an architecture JSON with a save_weights() file. keras_version chooses version-dependent
    semantics when the file does not record it. threads=N splits convolutions and dense layers
    across N threads (results do not change). profile=True times every op of every run (read
    with profile() / profile_table()).
    """

    def __init__(self, path, weights_path=None, keras_version=None, threads=1, profile=False):
        self._lib = lib()
        self._model = ctypes.c_void_p()
        self._session = ctypes.c_void_p()
        self._lock = threading.Lock()
        opts = None
        if keras_version is not None:
            opts = LoadOptionsC(ctypes.sizeof(LoadOptionsC), str(keras_version).encode())
        check(self._lib.dl_model_load(str(path).encode(), None if weights_path is None else str(weights_path).encode(),
                                      ctypes.byref(opts) if opts is not None else None, ctypes.byref(self._model)))
        if not isinstance(threads, int) or threads < 1:
            raise ValueError("threads must be a positive integer, got %r" % (threads,))
        sopts = SessionOptionsC(ctypes.sizeof(SessionOptionsC), 1 if profile else 0, threads)
        check(self._lib.dl_session_create_with_options(self._model, ctypes.byref(sopts), ctypes.byref(self._session)))
        n = ctypes.c_size_t()
        info = TensorInfoC()
        check(self._lib.dl_model_input_count(self._model, ctypes.byref(n)))
        inputs = []
        for i in range(n.value):
            check(self._lib.dl_model_input_info(self._model, i, ctypes.byref(info)))
            inputs.append(_info(info))
        check(self._lib.dl_model_output_count(self._model, ctypes.byref(n)))
        outputs = []
        for i in range(n.value):
            check(self._lib.dl_model_output_info(self._model, i, ctypes.byref(info)))
            outputs.append(_info(info))
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)

    def close(self):
        if getattr(self, "_session", None):
            self._lib.dl_session_release(self._session)
            self._session = None
        if getattr(self, "_model", None):
            self._lib.dl_model_release(self._model)
            self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _prepare(self, value, info):
        a = np.asarray(value)
        if info.dtype == np.int32:
            if a.dtype == np.int64:
                if a.size and (a.min() < -2**31 or a.max() >= 2**31):
                    raise ValueError("input '%s': int64 values out of int32 range" % info.name)
                a = a.astype(np.int32)
            elif not np.can_cast(a.dtype, np.int32, casting="same_kind") or a.dtype.kind == "f":
                raise TypeError("input '%s' expects int32, got %s" % (info.name, a.dtype))
            a = a.astype(np.int32, copy=False)
        else:
            if not np.can_cast(a.dtype, np.float32, casting="same_kind"):
                raise TypeError("input '%s' expects float32, got %s" % (info.name, a.dtype))
            a = a.astype(np.float32, copy=False)
        return np.ascontiguousarray(a)

    def run(self, inputs):
        """Runs on a list (model input order) or dict (by input name) of arrays; returns a list of arrays."""
        if self._session is None:
            raise ValueError("model is closed")
        if isinstance(inputs, dict):
            names = [i.name for i in self.inputs]
            unknown = set(inputs) - set(names)
            if unknown:
                raise KeyError("unknown input name(s) %s; the model's inputs are %s" % (sorted(unknown), names))
            missing = [n for n in names if n not in inputs]
            if missing:
                raise KeyError("missing input(s) %s" % missing)
            inputs = [inputs[n] for n in names]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        inputs = list(inputs)
        if len(inputs) != len(self.inputs):
            raise ValueError("model takes %d input(s), got %d" % (len(self.inputs), len(inputs)))
        arrays = [self._prepare(v, info) for v, info in zip(inputs, self.inputs)]
        shapes = [(ctypes.c_int64 * max(a.ndim, 1))(*a.shape) for a in arrays]
        cin = (InputC * len(arrays))()
        for i, (a, s) in enumerate(zip(arrays, shapes)):
            cin[i].data = a.ctypes.data
            cin[i].dtype = INT32 if a.dtype == np.int32 else FLOAT32
            cin[i].rank = a.ndim
            cin[i].shape = s
        with self._lock:
            check(self._lib.dl_session_run(self._session, len(arrays), cin))
            out = []
            view = OutputViewC()
            for i in range(len(self.outputs)):
                check(self._lib.dl_session_output(self._session, i, ctypes.byref(view)))
                shape = tuple(view.shape[k] for k in range(view.rank))
                y = np.empty(shape, dtype=np.float32)
                check(self._lib.dl_session_output_copy(self._session, i, y.ctypes.data, y.nbytes))
                out.append(y)
        return out

    def profile(self):
        """Per-op times of the runs so far (with the last input shapes), slowest first."""
        if self._session is None:
            raise ValueError("model is closed")
        with self._lock:
            n = ctypes.c_size_t()
            check(self._lib.dl_session_profile_count(self._session, ctypes.byref(n)))
            e = ProfileEntryC()
            out = []
            for i in range(n.value):
                check(self._lib.dl_session_profile_entry(self._session, i, ctypes.byref(e)))
                out.append(ProfileEntry(e.op.decode(), e.layers.decode(), e.total_ms, e.runs, e.flops))
        return out

    def reset_profile(self):
        check(self._lib.dl_session_profile_reset(self._session))

    def profile_table(self, top=None):
        """The profile as text: op, time per run, share, GFLOP/s, Keras layers."""
        entries = self.profile()
        total = sum(e.total_ms for e in entries) or 1.0
        lines = ["%-34s %10s %7s %9s  %s" % ("op", "ms/run", "share", "GFLOP/s", "layers")]
        for e in entries[:top]:
            per = e.total_ms / max(e.runs, 1)
            gflops = e.flops / (per * 1e6) if per > 0 and e.flops else 0.0
            lines.append("%-34s %10.4f %6.1f%% %9.1f  %s" % (e.op[:34], per, 100 * e.total_ms / total, gflops, e.layers))
        return "\n".join(lines)

    def __call__(self, *inputs):
        out = self.run(list(inputs))
        return out[0] if len(out) == 1 else out

    def __repr__(self):
        return "dlinfer.Model(inputs=%s, outputs=%s)" % (list(self.inputs), list(self.outputs))
