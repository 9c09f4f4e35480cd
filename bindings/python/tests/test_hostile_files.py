"""Hostile model files: corrupted containers and malicious architectures must end in a DLInferError,
never a crash or a hang. Every case runs in a forked child so a crash fails one case, not the run."""
import io
import json
import os
import random
import resource
import signal
import struct
import time
import zipfile

import numpy as np
import pytest

import dlinfer
from conftest import FIXTURES


def isolated(fn, timeout=60):
    """Runs fn() in a forked child (address space capped at 8 GiB, so a memory bomb crashes
    instead of swapping) and returns its short text result: what fn returned, "error <status>",
    "crashed (signal N)" or "hung"."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
            out = fn()
        except dlinfer.DLInferError as e:
            out = "error %s %s" % (e.status, e)
        except BaseException as e:  # noqa: BLE001 - reported to the parent as text
            out = "python %s: %s" % (type(e).__name__, e)
        os.write(w, str(out).encode()[:60000])
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return "hung"
        time.sleep(0.005)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    if os.WIFSIGNALED(status):
        return "crashed (signal %d)" % os.WTERMSIG(status)
    return b"".join(chunks).decode() or "exited with status %d" % os.WEXITSTATUS(status)


def load_and_run(path, weights=None):
    def body():
        m = dlinfer.Model(path, weights_path=weights)
        m.run([np.zeros((1,) + tuple(d or 1 for d in i.shape[1:]), i.dtype) for i in m.inputs])
        return "loaded"
    return body


def loader_for(source, path):
    """Loads `path` as the corrupted copy of fixture `source` (a weights file goes with its JSON)."""
    if source.endswith("weights.h5"):
        return load_and_run(FIXTURES / os.path.dirname(source) / "model.json", weights=path)
    return load_and_run(path)


# ---------------------------------------------------------------------------------------------
# Corrupted containers

FUZZED = ["tf_keras_cnn_classic/model.h5", "keras20_seq_cnn/model.h5", "keras3_cnn_classic/model.keras",
          "tf_keras_jw_seq_cnn/weights.h5"]
# Seeds whose corruptions crashed libhdf5 1.10 (or kept it busy for seconds) before the loader
# read variable-length strings itself (found with this generator; kept so the regression stays covered).
KNOWN_CRASHERS = {"tf_keras_cnn_classic/model.h5": [353, 380, 415, 421, 435, 507, 528, 586],
                  "keras20_seq_cnn/model.h5": [], "keras3_cnn_classic/model.keras": [255],
                  "tf_keras_jw_seq_cnn/weights.h5": [234, 261, 281, 284]}


def corrupted(data, source, seed):
    rng = random.Random("%s:%d" % (source, seed))
    b = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def fuzz_case(tmp_path, source, seed):
    data = (FIXTURES / source).read_bytes()
    p = tmp_path / ("case%d_%s" % (seed, os.path.basename(source)))
    p.write_bytes(corrupted(data, source, seed))
    return loader_for(source, p)


@pytest.mark.parametrize("source", FUZZED)
def test_corrupted_files_never_crash_or_hang(tmp_path, source):
    """Seeded random byte corruptions: each load works or raises; the process survives."""
    bad = {}
    for seed in list(range(40)) + KNOWN_CRASHERS[source]:
        out = isolated(fuzz_case(tmp_path, source, seed))
        if out != "loaded" and not out.startswith("error DL_ERR_"):
            bad[seed] = out
    assert not bad


def heap_collections(data):
    """Global heap collections of an HDF5 file (8-byte lengths): [(offset, [(index, header offset, size)])]."""
    found, at = [], data.find(b"GCOL\x01")
    while at >= 0:
        (size,) = struct.unpack_from("<Q", data, at + 8)
        objects, p = [], at + 16
        while p + 16 <= at + size:
            index, _, _, length = struct.unpack_from("<HHIQ", data, p)
            if index == 0:
                break
            objects.append((index, p, length))
            p += 16 + (length + 7) // 8 * 8
        found.append((at, objects))
        at = data.find(b"GCOL\x01", at + 1)
    return found


def vlen_references(data, collection, index, length):
    """Offsets of the variable-length references (length, collection address, index) to one object."""
    needle = struct.pack("<IQI", length, collection, index)
    offsets, at = [], data.find(needle)
    while at >= 0:
        offsets.append(at)
        at = data.find(needle, at + 1)
    return offsets


def heap_corruptions(data):
    """Targeted corruptions of the strings (model_config, layer_names, weight_names) that Keras
    stores as variable-length strings in the global heap."""
    cases = []
    (collection, objects), = [c for c in heap_collections(data) if c[1]][:1]
    index, header, length = max(objects, key=lambda o: o[2])  # the longest: model_config if any
    refs = vlen_references(data, collection, index, length)
    assert refs, "no reference to the heap object found"

    def patched(offset, fmt, value):
        b = bytearray(data)
        struct.pack_into(fmt, b, offset, value)
        return bytes(b)
    cases.append(("object size wild", patched(header + 8, "<Q", 1 << 40)))
    cases.append(("object size wraps", patched(header + 8, "<Q", (1 << 64) - 8)))
    cases.append(("object size loops back", patched(header + 8, "<Q", (1 << 64) - 16)))  # 16-byte header + size = 0
    cases.append(("object larger than its reference says", patched(refs[0], "<I", max(length // 2, 1))))
    cases.append(("reference length huge", patched(refs[0], "<I", 0xFFFFFFF0)))
    cases.append(("reference index past the collection", patched(refs[0] + 12, "<I", 0xFFFF)))
    cases.append(("reference index zero (free space)", patched(refs[0] + 12, "<I", 0)))
    cases.append(("reference to the superblock", patched(refs[0] + 4, "<Q", 0)))
    cases.append(("reference past the end", patched(refs[0] + 4, "<Q", len(data) - 8)))
    cases.append(("collection size wild", patched(collection + 8, "<Q", 1 << 40)))
    cases.append(("collection size tiny", patched(collection + 8, "<Q", 16)))
    return cases


@pytest.mark.parametrize("source", ["tf_keras_cnn_classic/model.h5", "tf_keras_xception_small/model.h5",
                                    "tf_keras_jw_seq_cnn/weights.h5"])
def test_corrupted_global_heap_strings_are_refused(tmp_path, source):
    data = (FIXTURES / source).read_bytes()
    wrong = {}
    for name, corrupt in heap_corruptions(data):
        p = tmp_path / (name.replace(" ", "_") + ".h5")
        p.write_bytes(corrupt)
        out = isolated(loader_for(source, p), timeout=30)
        if not (out.startswith("error DL_ERR_FORMAT") or out.startswith("error DL_ERR_WEIGHTS")):
            wrong[name] = out
    assert not wrong


# ---------------------------------------------------------------------------------------------
# Malicious architectures (Keras 3 .keras fixtures with an edited config.json)

def edited_keras(tmp_path, fixture, edit, name="edited.keras"):
    src = zipfile.ZipFile(FIXTURES / fixture / "model.keras")
    config = json.loads(src.read("config.json"))
    edit(config)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.namelist():
            z.writestr(item, json.dumps(config) if item == "config.json" else src.read(item))
    p = tmp_path / name
    p.write_bytes(out.getvalue())
    return p


def layer(config, name):
    return next(entry for entry in config["config"]["layers"] if entry["config"]["name"] == name)


def set_input(name, shape):
    def edit(config):
        layer(config, name)["config"]["batch_shape"] = shape
    return edit


def set_option(name, key, value):
    def edit(config):
        layer(config, name)["config"][key] = value
    return edit


def both(*edits):
    def edit(config):
        for e in edits:
            e(config)
    return edit


# (fixture, edit making a weight-fixed width unknown, input shape that fits, wider input shape)
UNKNOWN_WIDTHS = {
    "dense": ("keras3_dense_bias_act", set_input("input_layer", [None, None]), (1, 6), (1, 9)),
    "conv1x1": ("keras3_prelu", set_input("input_layer", [None, 5, 5, None]), (1, 5, 5, 3), (1, 5, 5, 8)),
    "depthwise": ("keras3_dwconv_s2_valid", set_input("input_layer", [None, 9, 9, None]), (1, 9, 9, 4), (1, 9, 9, 9)),
    "layernorm": ("keras3_layernorm_last", set_input("input_layer", [None, 5, None]), (1, 5, 6), (1, 5, 11)),
    "batchnorm": ("keras3_bn_axis_last", set_input("input_layer", [None, 6, 6, None]), (1, 6, 6, 4), (1, 6, 6, 7)),
    "rescaling": ("keras3_rescaling", both(set_input("input_layer", [None, 4, 5, None]),
                                           set_option("rescaling", "scale", [0.5, 0.25, 2.0])), (1, 4, 5, 3), (1, 4, 5, 8)),
    "normalization": ("keras3_normalization_adapted", set_input("input_layer", [None, 5, None]), (1, 5, 3), (1, 5, 6)),
}


@pytest.mark.parametrize("case", sorted(UNKNOWN_WIDTHS))
def test_unknown_width_runs_wider_input_as_shape_error(tmp_path, case):
    fixture, edit, fits, wider = UNKNOWN_WIDTHS[case]
    path = edited_keras(tmp_path, fixture, edit)

    def body():
        m = dlinfer.Model(path)
        m.run([np.ones(fits, np.float32)])
        try:
            m.run([np.ones(wider, np.float32)])
        except dlinfer.DLInferError as e:
            return "run error " + e.status
        return "ran"
    out = isolated(body)
    # Either the load refuses the unknown width, or the wider run is a shape error.
    assert out == "run error DL_ERR_SHAPE" or out.startswith("error DL_ERR_"), out


def op_args(name, args):
    def edit(config):
        layer(config, name)["inbound_nodes"][0]["args"] = args
    return edit


def op_class(name, class_name):
    def edit(config):
        layer(config, name)["class_name"] = class_name
    return edit


NO_TENSOR_OPS = {
    "reshape": op_args("reshape", [[-1, 20, 12]]),
    "reshape_empty": op_args("reshape", []),
    "transpose": op_args("transpose", [[0, 2, 1]]),
    "squeeze": both(op_class("transpose", "Squeeze"), op_args("transpose", [1])),
    "getitem": both(op_class("transpose", "GetItem"), op_args("transpose", [[1, 2]])),
}


@pytest.mark.parametrize("case", sorted(NO_TENSOR_OPS))
def test_op_without_tensor_argument_is_a_load_error(tmp_path, case):
    out = isolated(load_and_run(edited_keras(tmp_path, "keras3_ops_mixed", NO_TENSOR_OPS[case])))
    assert out.startswith("error DL_ERR_"), out


def load_and_run_small(path):
    """Loads, then runs inputs with 2 for unknown or absurd dimensions (a load that succeeds on
    absurd shapes must still refuse them at run time)."""
    def body():
        m = dlinfer.Model(path)
        m.run([np.ones((1,) + tuple(d if d and d <= 64 else 2 for d in i.shape[1:]), i.dtype) for i in m.inputs])
        return "ran"
    return body


BIG = 1 << 40  # the most the layers accept for sizes and paddings; products of two overflow
OVERFLOWS = {
    "reshape_overflow": ("keras3_reshape", set_option("reshape_1", "target_shape", [BIG, BIG, BIG])),
    "reshape_two_unknown": ("keras3_reshape", set_option("reshape_1", "target_shape", [-2, -2])),
    "reshape_two_minus_one": ("keras3_reshape", set_option("reshape_1", "target_shape", [-1, -1])),
    "reshape_overflow_at_run": ("keras3_reshape", both(set_input("input_layer", [None, None, None]),
                                                       set_option("reshape", "target_shape", [-1]),
                                                       set_option("reshape_1", "target_shape", [BIG, BIG, -1]))),
    "zeropadding_overflow": ("keras3_zeropad_crop", set_option("zero_padding2d", "padding", [[BIG, BIG], [BIG, BIG]])),
    "zeropadding_overflow_at_run": ("keras3_zeropad_crop", both(set_input("input_layer_1", [None, None, None, 2]),
                                                                set_option("zero_padding2d", "padding", [[BIG, BIG], [BIG, BIG]]))),
    "zeropadding_negative": ("keras3_zeropad_crop", set_option("zero_padding2d", "padding", [[-5, 0], [0, 0]])),
    "upsampling_overflow": ("keras3_upsampling", set_option("up_sampling2d", "size", [BIG, BIG])),
    "upsampling_overflow_at_run": ("keras3_upsampling", both(set_input("input_layer_1", [None, None, None, 2]),
                                                             set_option("up_sampling2d", "size", [BIG, BIG]))),
    "upsampling1d_overflow": ("keras3_upsampling", set_option("up_sampling1d", "size", BIG)),
    "upsampling1d_overflow_at_run": ("keras3_upsampling", both(set_input("input_layer", [None, None, 3]),
                                                               set_option("up_sampling1d", "size", BIG))),
    "upsampling_zero": ("keras3_upsampling", set_option("up_sampling2d", "size", [0, 3])),
    "permute_huge_input": ("keras3_permute", set_input("input_layer", [None, BIG, BIG, BIG])),
}


@pytest.mark.parametrize("case", sorted(OVERFLOWS))
def test_element_count_overflow_is_a_clean_error(tmp_path, case):
    fixture, edit = OVERFLOWS[case]
    out = isolated(load_and_run_small(edited_keras(tmp_path, fixture, edit)))
    assert out.startswith("error DL_ERR_"), out


TERABYTES = {
    "upsampling": ("keras3_upsampling", set_option("up_sampling2d", "size", [1 << 19, 1 << 19])),
    "upsampling_bilinear": ("keras3_upsampling", set_option("up_sampling2d_1", "size", [1 << 19, 1 << 19])),
    "zeropadding": ("keras3_zeropad_crop", set_option("zero_padding2d", "padding", [[1 << 20, 1 << 20], [1 << 20, 1 << 20]])),
}


@pytest.mark.parametrize("case", sorted(TERABYTES))
def test_terabyte_activations_are_a_shape_error_at_run_time(tmp_path, case):
    fixture, edit = TERABYTES[case]
    out = isolated(load_and_run(edited_keras(tmp_path, fixture, edit)))
    assert out.startswith("error DL_ERR_SHAPE"), out
