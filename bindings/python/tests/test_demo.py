"""The demo's predictions equal the ones Keras produced for the same JPEG files."""
import json
import sys

import numpy as np

from conftest import DEMO

sys.path.insert(0, str(DEMO))
import classify_digits  # noqa: E402


def test_demo_matches_keras():
    expected = json.loads((DEMO / "expected.json").read_text())
    keras_probs = np.load(DEMO / "expected_probs.npy")
    results = classify_digits.classify()
    assert [r[0] for r in results] == sorted(expected["images"])
    probs = np.stack([r[2] for r in results])
    np.testing.assert_allclose(probs, keras_probs, atol=1e-4, rtol=1e-4)
    for name, label, p in results:
        want = expected["images"][name]
        assert label == want["label"]
        # Top-1 only: 2nd/3rd places are often within 1e-4 of each other, so their order is not stable.
        assert int(np.argmax(p)) == int(want["top3"][0][0])
