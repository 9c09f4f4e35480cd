"""Bad files and bad inputs raise DLInferError / TypeError with the engine's message."""
import json

import numpy as np
import pytest

import dlinfer
from conftest import FIXTURES

CNN = FIXTURES / "tf_keras_cnn_classic" / "model.h5"
ARCH = FIXTURES / "tf_keras_jw_seq_cnn"


def test_missing_file():
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model("/nonexistent/model.h5")
    assert e.value.status == "DL_ERR_IO"
    assert "/nonexistent/model.h5" in str(e.value)


def test_not_a_model(tmp_path):
    p = tmp_path / "x.h5"
    p.write_text("hello")
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model(p)
    assert e.value.status == "DL_ERR_FORMAT"


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.6, 0.95])
def test_truncated(tmp_path, fraction):
    data = CNN.read_bytes()
    p = tmp_path / "cut.h5"
    p.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model(p)
    assert e.value.status in ("DL_ERR_FORMAT", "DL_ERR_WEIGHTS")


def edited(tmp_path, layer, key, value):
    arch = json.loads((ARCH / "model.json").read_text())
    entry = arch["config"]["layers"][layer]
    if key == "class_name":
        entry["class_name"] = value
    else:
        entry["config"][key] = value(entry["config"][key]) if callable(value) else value
    p = tmp_path / "arch.json"
    p.write_text(json.dumps(arch))
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.Model(p, weights_path=ARCH / "weights.h5")
    return e.value


def test_unknown_layer(tmp_path):
    e = edited(tmp_path, 2, "class_name", "FancyPooling")
    assert e.status == "DL_ERR_UNSUPPORTED"
    assert "'max_pooling2d'" in str(e) and "FancyPooling" in str(e)


def test_unsupported_option(tmp_path):
    e = edited(tmp_path, 1, "data_format", "channels_first")
    assert e.status == "DL_ERR_UNSUPPORTED"
    assert "option data_format='channels_first'" in str(e)


def test_wrong_weight_shape(tmp_path):
    e = edited(tmp_path, 5, "units", lambda units: units + 4)
    assert e.status == "DL_ERR_WEIGHTS"
    assert "'dense' (Dense): weight 'kernel' has shape" in str(e)


def test_missing_weights(tmp_path):
    e = edited(tmp_path, 3, "name", "other_conv")
    assert e.status == "DL_ERR_WEIGHTS"
    assert "'other_conv' (Conv2D): weights missing" in str(e)


def test_bad_inputs():
    model = dlinfer.Model(CNN)
    shape = (1,) + model.inputs[0].shape[1:]
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError):
        model.run([x, x])
    with pytest.raises(dlinfer.DLInferError) as e:
        model.run([np.zeros((1,) + shape[1:-1] + (shape[-1] + 1,), np.float32)])
    assert e.value.status == "DL_ERR_SHAPE" and "expects shape" in str(e.value)
    with pytest.raises(TypeError):
        model.run([x.astype(np.complex64)])
    with pytest.raises(TypeError):
        model.run([np.array(["a"] * x.size).reshape(shape)])
    with pytest.raises(KeyError):
        model.run({"nope": x})
    # float64 -> float32 is a same-kind cast and is accepted.
    np.testing.assert_allclose(model.run([x.astype(np.float64)])[0], model.run([x])[0])


def test_nan_inf_propagate():
    model = dlinfer.Model(CNN)
    x = np.full((1,) + model.inputs[0].shape[1:], 0.5, np.float32)
    x.flat[0] = np.nan
    x.flat[1] = np.inf
    y = model(x)
    assert np.isnan(y).any()


def test_closed_model():
    model = dlinfer.Model(CNN)
    model.close()
    with pytest.raises(ValueError):
        model.run([np.zeros((1,) + model.inputs[0].shape[1:], np.float32)])


def test_metadata():
    model = dlinfer.Model(CNN)
    assert model.inputs[0].shape[0] is None
    assert model.inputs[0].dtype == np.float32
    assert len(model.outputs) == 1
    assert dlinfer.version()


_CHILD = r"""
import sys
sys.path.insert(0, sys.argv[2])
import numpy as np
import dlinfer
try:
    m = dlinfer.Model(sys.argv[1])
    m.run([np.zeros((1,) + tuple(d or 1 for d in i.shape[1:]), i.dtype) for i in m.inputs])
    print("loaded")
except dlinfer.DLInferError as e:
    print("error", e.status)
"""


@pytest.mark.parametrize("source", ["tf_keras_cnn_classic/model.h5", "keras3_cnn_classic/model.keras",
                                    "keras20_seq_cnn/model.h5"])
def test_corrupted_files_never_crash(tmp_path, source):
    """Seeded random byte corruptions: each load either works or raises; the process survives."""
    import random
    import subprocess
    import sys
    from conftest import ROOT
    data = (FIXTURES / source).read_bytes()
    rng = random.Random(source)
    outcomes = set()
    for t in range(12):
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        p = tmp_path / ("case%d%s" % (t, source[source.rindex("."):]))
        p.write_bytes(bytes(b))
        r = subprocess.run([sys.executable, "-c", _CHILD, str(p), str(ROOT / "bindings" / "python")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, "corruption %d of %s crashed the process: %s" % (t, source, r.stderr[-500:])
        outcomes.add(r.stdout.split()[0])
    assert outcomes <= {"loaded", "error"}
