"""Inputs the fuzzers (tools/fuzz.sh) found crashing, leaking or misbehaving, kept under
Tests/Fuzz/regressions/<target>/: each must now end in a clean DLInferError through the C ABI
(run in a forked child, so a crash fails one case, not the run)."""
import pytest

import dlinfer
from conftest import FIXTURES
from test_hostile_files import isolated

REGRESSIONS = FIXTURES.parent / "Fuzz" / "regressions"
WEIGHTS = FIXTURES / "keras3_jw_seq_cnn" / "model.weights.h5"  # the config target's fixed weights


def through_c_abi(target, data):
    def body():
        if target in ("loader", "zip"):
            dlinfer.Model.from_bytes(data, max_weight_bytes=64 << 20)
        elif target in ("json", "config"):
            dlinfer.Model.from_bytes(data, weights=WEIGHTS.read_bytes(), max_weight_bytes=64 << 20)
        elif target == "image":
            first = data[0] if data else 0
            side = (first & 0x1F) + 1
            dlinfer.decode_image(data[1:], side, side + 1, channels=3 if first & 0x20 else 1)
        return "accepted"
    return isolated(body)


CASES = sorted((p.parent.name, p) for p in REGRESSIONS.glob("*/*") if p.is_file())
CASES = [pytest.param(t, p, id="%s/%s" % (t, p.name)) for t, p in CASES]


@pytest.mark.parametrize("target,path", CASES)
def test_regression_input_is_a_clean_error(target, path):
    result = through_c_abi(target, path.read_bytes())
    assert result.startswith("error DL_ERR_"), result
