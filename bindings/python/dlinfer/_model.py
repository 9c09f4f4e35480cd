"""Model: load once, run many times (one session per Model object; calls on it are serialised)."""
import ctypes
import numbers
import threading
from dataclasses import dataclass

import numpy as np

from ._library import (FLOAT32, INT32, InputC, LoadOptionsC, OutputViewC, ProfileEntryC, SessionOptionsC, TensorInfoC,
                       c_string, check, lib)

_NO_COPY = ("a dlinfer.Model cannot be copied or pickled (it owns the engine's model and session); "
            "load another with dlinfer.Model(path, ...) instead")


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


def _address(a):
    """The data address of a C-contiguous array. ctypes.c_char.from_buffer takes a third of the
    time __array_interface__ does (0.8 vs 2.4 us, which counts in a small model's run), but only
    for a writable buffer."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):
        return a.__array_interface__["data"][0]


def _as_bytes(value, what):
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError("%s must be bytes, bytearray or memoryview, got %s" % (what, type(value).__name__))


class Model:
    """A Keras model loaded by dlinfer.

    Model(path) loads a full-model .h5 or a .keras archive; Model(json_path, weights_path=...)
    loads an architecture JSON with a save_weights() file. keras_version chooses version-dependent
    semantics when the file does not record it. max_weight_bytes bounds the weights the file may
    make the loader read (and each member inflated from a .keras archive); None is the engine's
    default, 4 GiB. threads=N splits convolutions and dense layers across N threads (results do not
    change). profile=True times every op of every run (read with profile() / profile_table()).

    Calls on one Model are serialised by a lock; close() waits for a run in progress, and any call
    after it raises ValueError. A Model cannot be copied: create another one.
    """

    def __init__(self, path, weights_path=None, keras_version=None, threads=1, profile=False, max_weight_bytes=None):
        self._lock = threading.Lock()
        path = c_string(path, "model path")
        weights = None if weights_path is None else c_string(weights_path, "weights_path")
        self._load(lambda lib, opts, out: lib.dl_model_load(path, weights, opts, out),
                   keras_version, threads, profile, max_weight_bytes)

    @classmethod
    def from_bytes(cls, data, weights=None, keras_version=None, threads=1, profile=False, max_weight_bytes=None):
        """Loads a model from bytes in memory (dl_model_load_memory): data holds a full-model .h5,
        a .keras archive, or an architecture JSON, in which case weights holds the weights file's
        bytes. Accepts bytes, bytearray or memoryview; nothing is written to disk."""
        data = _as_bytes(data, "data")
        weights = None if weights is None else _as_bytes(weights, "weights")
        self = cls.__new__(cls)
        self._lock = threading.Lock()
        self._load(lambda lib, opts, out: lib.dl_model_load_memory(data, len(data), weights,
                                                                   0 if weights is None else len(weights), opts, out),
                   keras_version, threads, profile, max_weight_bytes)
        return self

    def _load(self, load, keras_version, threads, profile, max_weight_bytes):
        self._model = ctypes.c_void_p()
        self._session = ctypes.c_void_p()
        version = None if keras_version is None else c_string(str(keras_version), "keras_version")
        if max_weight_bytes is not None:
            if not isinstance(max_weight_bytes, numbers.Integral) or isinstance(max_weight_bytes, bool):
                raise TypeError("max_weight_bytes must be an integer number of bytes, got %r" % (max_weight_bytes,))
            if not 0 < max_weight_bytes < 2**64:
                raise ValueError("max_weight_bytes must be between 1 and 2**64 - 1, got %r" % (max_weight_bytes,))
        if not isinstance(threads, int) or threads < 1:
            raise ValueError("threads must be a positive integer, got %r" % (threads,))
        self._lib = lib()
        opts = None
        if version is not None or max_weight_bytes is not None:
            opts = LoadOptionsC(ctypes.sizeof(LoadOptionsC), version, int(max_weight_bytes or 0))
        check(load(self._lib, ctypes.byref(opts) if opts is not None else None, ctypes.byref(self._model)))
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
        """Releases the engine's model and session (waiting for a run in progress on another thread);
        calls after it raise ValueError. Idempotent."""
        lock = self.__dict__.get("_lock")
        if lock is None:  # __init__ failed before anything was allocated
            return
        with lock:
            session, model = self._session, self._model
            self._session = self._model = None
            if session:
                self._lib.dl_session_release(session)
            if model:
                self._lib.dl_model_release(model)

    def _open_session(self):
        """The session; call with the lock held."""
        if not self._session:
            raise ValueError("model is closed")
        return self._session

    def __copy__(self):
        raise TypeError(_NO_COPY)

    def __deepcopy__(self, memo):
        raise TypeError(_NO_COPY)

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_COPY)

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
        if type(value) is np.ndarray and value.dtype == info.dtype and value.flags.c_contiguous:
            return value
        a = np.asarray(value)
        if info.dtype == np.int32:
            if a.dtype.kind not in "biu":
                raise TypeError("input '%s' expects int32, got %s" % (info.name, a.dtype))
            if not np.can_cast(a.dtype, np.int32):  # int64, uint32, uint64: a value may not fit
                if a.size and (a.min() < -2**31 or a.max() > 2**31 - 1):
                    raise ValueError("input '%s': %s values out of int32 range" % (info.name, a.dtype))
            a = a.astype(np.int32, copy=False)
        else:
            if not np.can_cast(a.dtype, np.float32, casting="same_kind"):
                raise TypeError("input '%s' expects float32, got %s" % (info.name, a.dtype))
            a = a.astype(np.float32, copy=False)
        return np.ascontiguousarray(a)

    def run(self, inputs):
        """Runs on a list (model input order) or dict (by input name) of arrays; returns a list of arrays."""
        if type(inputs) is np.ndarray and len(self.inputs) == 1:
            # One array for a one-input model, the common call: no list, zip or _prepare call
            # when the array is already what the engine reads.
            info = self.inputs[0]
            if inputs.dtype == info.dtype and inputs.flags.c_contiguous:
                arrays = [inputs]
            else:
                arrays = [self._prepare(inputs, info)]
            return self._run_arrays(arrays)
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
        else:
            inputs = list(inputs)
        if len(inputs) != len(self.inputs):
            raise ValueError("model takes %d input(s), got %d" % (len(self.inputs), len(inputs)))
        return self._run_arrays([self._prepare(v, info) for v, info in zip(inputs, self.inputs)])

    def _run_arrays(self, arrays):
        # Each prepared array has its input's dtype, so the shapes alone say whether the cache holds.
        key = tuple([a.shape for a in arrays])
        with self._lock:
            session = self._open_session()
            # The C input descriptors and the output shapes are kept for the last input shapes, so a
            # repeated run costs one call to run and one copy per output.
            cached = self.__dict__.get("_run_cache")
            if cached is None or cached[0] != key:
                shapes = [(ctypes.c_int64 * max(a.ndim, 1))(*a.shape) for a in arrays]
                cin = (InputC * len(arrays))()
                for i, (a, s) in enumerate(zip(arrays, shapes)):
                    cin[i].dtype = INT32 if a.dtype == np.int32 else FLOAT32
                    cin[i].rank = a.ndim
                    cin[i].shape = s
                cached = [key, cin, shapes, None]
                self._run_cache = cached
            cin = cached[1]
            for i, a in enumerate(arrays):
                cin[i].data = _address(a)
            check(self._lib.dl_session_run(session, len(arrays), cin))
            if cached[3] is None:
                view = OutputViewC()
                outs = []
                for i in range(len(self.outputs)):
                    check(self._lib.dl_session_output(session, i, ctypes.byref(view)))
                    shape = tuple(view.shape[k] for k in range(view.rank))
                    outs.append((i, shape, 4 * int(np.prod(shape, dtype=np.int64))))
                cached[3] = outs
            copy = self._lib.dl_session_output_copy
            out = []
            for i, shape, nbytes in cached[3]:
                y = np.empty(shape, dtype=np.float32)
                check(copy(session, i, _address(y), nbytes))
                out.append(y)
        return out

    def profile(self):
        """Per-op times of the runs so far (with the last input shapes), slowest first."""
        with self._lock:
            session = self._open_session()
            n = ctypes.c_size_t()
            check(self._lib.dl_session_profile_count(session, ctypes.byref(n)))
            e = ProfileEntryC()
            out = []
            for i in range(n.value):
                check(self._lib.dl_session_profile_entry(session, i, ctypes.byref(e)))
                out.append(ProfileEntry(e.op.decode(), e.layers.decode(), e.total_ms, e.runs, e.flops))
        return out

    def reset_profile(self):
        with self._lock:
            check(self._lib.dl_session_profile_reset(self._open_session()))

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
