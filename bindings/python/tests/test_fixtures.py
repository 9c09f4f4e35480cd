"""Every Keras fixture through the Python binding (and so through the C ABI)."""
import json

import numpy as np
import pytest

import dlinfer
from compare import mismatch
from conftest import FIXTURES

CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "manifest.json").is_file() and p.name != "images")


def test_fixture_set_present():
    assert len(CASES) > 100


@pytest.mark.parametrize("case", CASES)
def test_matches_keras(case):
    d = FIXTURES / case
    m = json.loads((d / "manifest.json").read_text())
    model = dlinfer.Model(d / m["model"], weights_path=(d / m["weights"]) if m.get("weights") else None)
    inputs = [np.load(d / f) for f in m["inputs"]]
    for x, info in zip(inputs, model.inputs):
        assert len(x.shape) == len(info.shape)
        assert all(s is None or s == d for s, d in zip(info.shape, x.shape)), (info, x.shape)
    outputs = model.run(inputs)
    assert len(outputs) == len(m["outputs"]) == len(model.outputs)
    for k, f in enumerate(m["outputs"]):
        miss = mismatch(outputs[k], np.load(d / f), m["tolerance"], m.get("argmax", False))
        assert miss is None, "output %d: %s" % (k, miss)


def test_dict_inputs_by_name():
    d = FIXTURES / "tf_keras_merge_subtract"
    m = json.loads((d / "manifest.json").read_text())
    model = dlinfer.Model(d / m["model"])
    inputs = [np.load(d / f) for f in m["inputs"]]
    by_name = {info.name: x for info, x in zip(model.inputs, inputs)}
    reversed_dict = dict(reversed(list(by_name.items())))
    np.testing.assert_array_equal(model.run(reversed_dict)[0], model.run(inputs)[0])
