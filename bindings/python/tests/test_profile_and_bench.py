"""Per-op profiles through the binding, and the dlbench tool users run."""
import json
import math
import subprocess

import numpy as np
import pytest

import dlinfer
from conftest import FIXTURES, ROOT

MOBILENET = FIXTURES / "keras3_mobilenetv2_035" / "model.keras"
DLBENCH = ROOT / ".build" / "release" / "dlbench"


def test_profile_names_fused_layers():
    m = dlinfer.Model(MOBILENET, profile=True)
    x = np.zeros((1,) + m.inputs[0].shape[1:], np.float32)
    m(x)
    m(x)
    entries = m.profile()
    assert entries and all(e.runs == 2 for e in entries)
    assert [e.total_ms for e in entries] == sorted((e.total_ms for e in entries), reverse=True)
    first_conv = [e for e in entries if "Conv1" in e.layers.split(", ")]
    assert first_conv and "bn_Conv1" in first_conv[0].layers and "Conv1_relu" in first_conv[0].layers, \
        "BatchNormalization and ReLU fused into the first convolution"
    assert first_conv[0].flops > 0
    table = m.profile_table(top=5)
    assert "GFLOP/s" in table and len(table.splitlines()) == 6
    m.reset_profile()
    assert all(e.runs == 0 and e.total_ms == 0 for e in m.profile())


def test_profile_needs_profiling_session():
    m = dlinfer.Model(MOBILENET)
    m(np.zeros((1,) + m.inputs[0].shape[1:], np.float32))
    with pytest.raises(dlinfer.DLInferError) as e:
        m.profile()
    assert e.value.status == "DL_ERR_INVALID_ARGUMENT" and "without profiling" in str(e.value)


def _dlbench(*args):
    return subprocess.run([str(DLBENCH), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_dlbench_json_report():
    r = _dlbench(MOBILENET, "--runs", 5, "--warmup", 1, "--batch", 2, "--profile", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["batch"] == 2 and report["runs"] == 5
    assert report["inputs"][0]["shape"] == [2, 96, 96, 3]
    lat = report["latency_ms"]
    assert 0 < lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"]
    assert report["peak_rss_mb"] > 0 and report["arena_mb"] > 0 and report["load_ms"] > 0
    assert any("BatchNormalization folded" in line for line in report["optimizations"])
    profile = report["profile"]
    ops = profile["ops"]
    assert ops and all(op["layers"] for op in ops)
    # 5 runs, each one sample per op: per op its fastest and its median run, slowest (median) first.
    assert profile["runs"] == 5
    medians = [op["ms_median"] for op in ops]
    assert medians == sorted(medians, reverse=True)
    assert all(0 < op["ms_best"] <= op["ms_median"] for op in ops)
    # The peak is checked before and after every run; it is the best of those checks.
    assert profile["peak_gflops_per_thread"] > 0 and profile["peak_checks"] == 10
    for op in ops:
        if op["gflops_best"] is not None:
            assert op["gflops_best"] >= op["gflops_median"] > 0
            assert op["percent_peak_best"] == pytest.approx(100 * op["gflops_best"] / profile["peak_gflops_per_thread"], rel=1e-4)
            # Against each run's own checks (none above the best), so never below the global figure.
            assert op["percent_run_peak_median"] >= op["percent_peak_median"] * (1 - 1e-4) > 0
        else:
            assert op["percent_run_peak_median"] is None
    assert any(op["gflops_best"] for op in ops if op["op"].startswith("conv2d"))
    # Weights read per run: the packed kernels (columns padded to the tier's panel), none for
    # ops without weights; GB/s is their size over the op's best run.
    by_layer = {(op["op"].split()[0], op["layers"][0]): op for op in ops}
    for key, k, n in ((("conv2d", "Conv_1"), 112, 1280), (("dense", "predictions"), 1280, 10)):
        assert k * n * 4 <= by_layer[key]["weight_bytes"] < k * (n + 64) * 4
    # 10 columns fill no tier's panel (multiples of 8).
    assert by_layer[("dense", "predictions")]["weight_bytes"] > 1280 * 10 * 4
    assert by_layer[("softmax", "predictions")]["weight_bytes"] == 0
    for op in ops:
        if op["weight_bytes"]:
            assert op["weight_gbps_best"] == pytest.approx(op["weight_bytes"] / op["ms_best"] / 1e6, rel=1e-4)
        else:
            assert op["weight_gbps_best"] is None
    # The JSON prints 6 significant digits, so a sum may differ from its total by half a unit of
    # the last digit of each figure.
    for key, total in (("ms_median", profile["total_ms_median"]), ("ms_best", profile["total_ms_best"])):
        times = [op[key] for op in ops]
        rounding = sum(0.5 * 10 ** (math.floor(math.log10(x)) - 5) for x in times + [total] if x > 0)
        assert abs(sum(times) - total) <= rounding * (1 + 1e-9)


def test_dlbench_errors():
    r = _dlbench("/nonexistent/model.h5", "--runs", 1)
    assert r.returncode == 1 and "/nonexistent/model.h5" in r.stderr
    r = _dlbench(MOBILENET, "--shape", "nope=1,2,3", "--runs", 1)
    assert r.returncode == 1 and "nope" in r.stderr
    r = _dlbench(MOBILENET, "--shape", "input_layer=1,96,95,3", "--runs", 1)
    assert r.returncode == 1 and "does not fit" in r.stderr
    r = _dlbench(MOBILENET, "--frobnicate")
    assert r.returncode == 2
