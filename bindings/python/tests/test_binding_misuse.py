"""Misusing the Python binding raises a Python exception; it never corrupts memory, wraps values
silently or crashes the interpreter. Cases that crashed before the binding guarded them run in a
subprocess, so a regression fails one test instead of the whole run."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlinfer
from conftest import FIXTURES, ROOT

CNN = FIXTURES / "tf_keras_cnn_classic" / "model.h5"
ARCH = FIXTURES / "tf_keras_jw_seq_cnn"
KERAS = FIXTURES / "keras3_int32_dense" / "model.keras"
INT32_MODEL = FIXTURES / "tf_keras_int32_dense" / "model.h5"
JPEG = FIXTURES / "images" / "rgb_13x17_q90.jpg"


def python(code, timeout=120):
    """Runs `code` in a fresh interpreter that imports this package (and the same library)."""
    prelude = "import sys; sys.path.insert(0, %r)\n" % str(ROOT / "bindings" / "python")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONFAULTHANDLER="1"))


# --- integer inputs: values that do not fit int32 are refused, not wrapped ---------------------------

@pytest.mark.parametrize("dtype", [np.uint32, np.uint64, np.int64])
def test_integer_values_out_of_int32_range_are_refused(dtype):
    model = dlinfer.Model(INT32_MODEL)
    x = np.zeros((1,) + model.inputs[0].shape[1:], dtype)
    x[0, 0] = 3_000_000_000
    with pytest.raises(ValueError, match="out of int32 range"):
        model.run([x])
    if np.iinfo(dtype).min < 0:
        x[0, 0] = -3_000_000_000
        with pytest.raises(ValueError, match="out of int32 range"):
            model.run([x])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.uint64, np.int64])
def test_integer_values_in_int32_range_run_as_int32(dtype):
    model = dlinfer.Model(INT32_MODEL)
    shape = (2,) + model.inputs[0].shape[1:]
    info = np.iinfo(dtype)
    x = np.arange(np.prod(shape)).reshape(shape) % 100
    x[0, 0] = min(info.max, 2**31 - 1)
    x[1, 0] = max(info.min, -2**31)
    want, = model.run([x.astype(np.int32)])
    got, = model.run([x.astype(dtype)])
    np.testing.assert_array_equal(got, want)


# --- copying a Model ---------------------------------------------------------------------------------

def test_copy_is_refused():
    # A copy used to share the C handles and release them twice (a crash at exit).
    r = python("""
        import copy, pickle, dlinfer
        m = dlinfer.Model(%r)
        for name, f in [("copy", copy.copy), ("deepcopy", copy.deepcopy), ("pickle", pickle.dumps)]:
            try:
                f(m)
                print(name, "allowed")
            except TypeError as e:
                print(name, "TypeError", e)
        m.close()
    """ % str(CNN))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["copy", "TypeError"], ["deepcopy", "TypeError"],
                                                   ["pickle", "TypeError"]], r.stdout
    assert all("dlinfer.Model(" in line for line in lines), r.stdout


# --- closing ---------------------------------------------------------------------------------------

def test_calls_on_a_closed_model_raise_value_error():
    model = dlinfer.Model(CNN, profile=True)
    x = np.zeros((1,) + model.inputs[0].shape[1:], np.float32)
    model.run([x])
    model.close()
    model.close()  # idempotent
    for call in (lambda: model.run([x]), model.profile, model.reset_profile, lambda: model(x)):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_close_racing_run_on_another_thread():
    # close() used to release the session while run() was inside it (use after free), or between
    # run()'s closed check and its call (a NULL session: DLInferError). Now close() waits for a run
    # in progress, and later runs raise ValueError.
    r = python("""
        import random, threading, time
        import numpy as np
        import dlinfer
        model = dlinfer.Model(%r)
        x = np.random.default_rng(0).random((32,) + model.inputs[0].shape[1:], dtype=np.float32)
        want, = model.run([x])
        bad = []
        for trial in range(40):
            m = dlinfer.Model(%r)
            started = threading.Event()
            def loop():
                try:
                    while True:
                        y, = m.run([x])
                        started.set()
                        if not np.array_equal(y, want):
                            bad.append("wrong output")
                except ValueError as e:
                    if "closed" not in str(e):
                        bad.append("ValueError %%s" %% e)
                except BaseException as e:
                    bad.append("%%s: %%s" %% (type(e).__name__, e))
                finally:
                    started.set()
            t = threading.Thread(target=loop)
            t.start()
            started.wait()
            time.sleep(random.random() * 0.002)
            m.close()
            t.join()
        print("bad", bad)
    """ % (str(CNN), str(CNN)), timeout=300)
    assert r.returncode == 0, "exit status %d\n%s%s" % (r.returncode, r.stdout, r.stderr[-3000:])
    assert "bad []" in r.stdout, r.stdout


# --- paths with NUL ----------------------------------------------------------------------------------

def test_nul_in_a_path_is_refused():
    # A NUL used to cut the path short silently: "model.h5\0anything" loaded model.h5.
    with pytest.raises(ValueError, match="NUL"):
        dlinfer.Model(str(CNN) + "\0.other")
    with pytest.raises(ValueError, match="NUL"):
        dlinfer.Model(ARCH / "model.json", weights_path=str(ARCH / "weights.h5") + "\0x")
    with pytest.raises(ValueError, match="NUL"):
        dlinfer.Model(CNN, keras_version="2.15.0\0x")
    with pytest.raises(ValueError, match="NUL"):
        dlinfer.load_image(str(JPEG) + "\0.png", 8, 8)


def test_bytes_and_pathlike_paths():
    a = dlinfer.load_image(JPEG, 8, 8)
    b = dlinfer.load_image(str(JPEG).encode(), 8, 8)
    np.testing.assert_array_equal(a, b)
    dlinfer.Model(os.fsencode(str(CNN))).close()


# --- the weight limit --------------------------------------------------------------------------------

@pytest.mark.parametrize("path,weights", [(CNN, None), (ARCH / "model.json", ARCH / "weights.h5"), (KERAS, None)],
                         ids=["h5", "json+weights", "keras"])
def test_max_weight_bytes(path, weights):
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model(path, weights_path=weights, max_weight_bytes=1000)
    assert e.value.status == "DL_ERR_UNSUPPORTED"
    assert "limit of 1000 bytes" in str(e.value)
    dlinfer.Model(path, weights_path=weights, max_weight_bytes=1 << 20).close()
    dlinfer.Model(path, weights_path=weights, max_weight_bytes=None).close()


@pytest.mark.parametrize("value,error", [(0, ValueError), (-1, ValueError), (1 << 64, ValueError), (1.5, TypeError),
                                         ("1000", TypeError), (True, TypeError)])
def test_max_weight_bytes_bad_values(value, error):
    with pytest.raises(error, match="max_weight_bytes"):
        dlinfer.Model(CNN, max_weight_bytes=value)


# --- input memory the binding reads without copying -------------------------------------------------

def test_read_only_and_writable_inputs_give_the_same_outputs():
    """The binding takes a writable array's address through the buffer protocol and falls back to
    __array_interface__ for memory that cannot be exported writable (read-only arrays, bytes)."""
    with dlinfer.Model(CNN) as m:
        shape = (2,) + tuple(m.inputs[0].shape[1:])
        x = np.random.default_rng(3).uniform(-1, 1, shape).astype(np.float32)
        expected = m.run([x])[0]
        frozen = x.copy()
        frozen.flags.writeable = False
        from_bytes = np.frombuffer(x.tobytes(), dtype=np.float32).reshape(shape)
        assert not from_bytes.flags.writeable
        for a in (frozen, from_bytes, x[::1]):
            np.testing.assert_array_equal(m.run([a])[0], expected)
        # The outputs are the caller's own arrays, not views of engine memory.
        y = m.run([x])[0]
        y[...] = 0
        np.testing.assert_array_equal(m.run([x])[0], expected)
