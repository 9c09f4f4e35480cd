"""dl_model_load_memory / Model.from_bytes: every form dl_model_load accepts, from bytes in memory."""
import ctypes

import numpy as np
import pytest

import dlinfer
from dlinfer._library import lib
from conftest import FIXTURES

CASES = [  # (fixture, model file, weights file)
    ("tf_keras_act_elu", "model.h5", None),
    ("keras3_act_elu", "model.keras", None),
    ("keras3_jw_seq_cnn", "model.json", "model.weights.h5"),
]


def read(path):
    return path.read_bytes()


@pytest.mark.parametrize("case,model,weights", CASES)
def test_from_bytes_matches_file(case, model, weights):
    d = FIXTURES / case
    x = np.load(d / "input_0.npy")
    from_file = dlinfer.Model(str(d / model), weights_path=None if weights is None else str(d / weights))
    from_bytes = dlinfer.Model.from_bytes(read(d / model), weights=None if weights is None else bytearray(read(d / weights)))
    assert from_bytes.inputs == from_file.inputs and from_bytes.outputs == from_file.outputs
    a, = from_file.run([x])
    b, = from_bytes.run([x])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(b, np.load(d / "output_0.npy"), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case,model,weights", CASES)
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_bytes_are_format_errors(case, model, weights, fraction):
    d = FIXTURES / case
    data = read(d / model)
    w = None if weights is None else read(d / weights)
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model.from_bytes(data[:int(len(data) * fraction)], weights=w)
    assert e.value.status == "DL_ERR_FORMAT", str(e.value)
    if w is not None:
        with pytest.raises(dlinfer.DLInferError) as e:
            dlinfer.Model.from_bytes(data, weights=w[:int(len(w) * fraction)])
        assert e.value.status == "DL_ERR_FORMAT", str(e.value)


def test_misuse():
    d = FIXTURES / "keras3_jw_seq_cnn"
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model.from_bytes(b"")
    assert e.value.status == "DL_ERR_FORMAT"
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model.from_bytes(read(d / "model.json"))  # architecture JSON without weights
    assert e.value.status == "DL_ERR_INVALID_ARGUMENT"
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model.from_bytes(read(FIXTURES / "tf_keras_act_elu" / "model.h5"), weights=read(d / "model.weights.h5"))
    assert e.value.status == "DL_ERR_INVALID_ARGUMENT"
    with pytest.raises(TypeError):
        dlinfer.Model.from_bytes("not bytes")


def test_c_arguments_are_checked():
    L = lib()
    out = ctypes.c_void_p()
    data = read(FIXTURES / "tf_keras_act_elu" / "model.h5")
    size_max = ctypes.c_size_t(-1).value
    for args in [(None, 10, None, 0), (data, size_max, None, 0), (data, len(data), None, size_max),
                 (data, len(data), None, 5), (data, len(data), data, size_max)]:
        status = L.dl_model_load_memory(*args, None, ctypes.byref(out))
        assert status == 1, (args[1], args[3], L.dl_last_error())  # DL_ERR_INVALID_ARGUMENT
        assert not out.value
    assert str(size_max) in L.dl_last_error().decode()  # printed unsigned
    assert L.dl_model_load_memory(data, len(data), None, 0, None, None) == 1
    assert L.dl_model_load_memory(data, len(data), None, 0, None, ctypes.byref(out)) == 0
    L.dl_model_release(out)


def test_concurrent_loads_from_bytes_do_not_mix():
    """In-memory HDF5 images have no file identity: each load must open its own image even when
    several (all named "<memory>") are open at once."""
    import threading
    cases = [FIXTURES / "keras3_act_elu", FIXTURES / "keras3_act_glu", FIXTURES / "keras3_act_gelu"]
    blobs = [read(d / "model.keras") for d in cases]
    refs = [(np.load(d / "input_0.npy"), np.load(d / "output_0.npy")) for d in cases]
    errors = []

    def worker(i):
        try:
            for k in range(6):
                j = (i + k) % len(cases)
                m = dlinfer.Model.from_bytes(blobs[j])
                y, = m.run([refs[j][0]])
                if not np.allclose(y, refs[j][1], rtol=1e-4, atol=1e-4):
                    errors.append("case %d gave another model's output" % j)
                m.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
