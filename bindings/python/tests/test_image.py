"""dlinfer.load_image / decode_image against TensorFlow's decode_jpeg + resize + preprocess_input."""
import json

import numpy as np
import pytest

import dlinfer
from conftest import FIXTURES

DIR = FIXTURES / "images"
CASES = json.loads((DIR / "manifest.json").read_text())["cases"]
GOOD = [c for c in CASES if not c.get("error")]
BAD = [c for c in CASES if c.get("error")]


def test_cases_present():
    assert len(GOOD) >= 20 and len(BAD) >= 3


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c["expected"])
def test_matches_tensorflow(case):
    y = dlinfer.load_image(DIR / case["file"], case["height"], case["width"], case["channels"], case["mode"])
    ref = np.load(DIR / case["expected"])
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, atol=1e-4, rtol=1e-4)
    from_bytes = dlinfer.decode_image((DIR / case["file"]).read_bytes(), case["height"], case["width"],
                                      case["channels"], case["mode"])
    np.testing.assert_array_equal(from_bytes, y)


@pytest.mark.parametrize("case", BAD, ids=lambda c: c["file"])
def test_bad_jpeg(case):
    with pytest.raises(dlinfer.DLInferError) as e:
        dlinfer.load_image(DIR / case["file"], 8, 8, 3, "raw")
    assert e.value.status == "DL_ERR_FORMAT"
    with pytest.raises(dlinfer.DLInferError):
        dlinfer.decode_image((DIR / case["file"]).read_bytes(), 8, 8, 3, "raw")


def test_bad_arguments():
    path = DIR / "rgb_13x17_q90.jpg"
    with pytest.raises(ValueError):
        dlinfer.load_image(path, 8, 8, 3, "imagenet")
    with pytest.raises(dlinfer.DLInferError):
        dlinfer.load_image(path, 8, 8, 1, "caffe")
    with pytest.raises(dlinfer.DLInferError):
        dlinfer.load_image(path, 8, 8, 2, "raw")
