"""Shared helpers: seeding, weight randomization, save / reload / verify, manifest writing.

Used inside worker subprocesses only (one Keras generation per process).
"""
import json
import os
import re
import shutil
import zlib

import numpy as np

RELOAD_ATOL = 1e-6
RELOAD_RTOL = 1e-6

TOL_ELEMENTWISE = {"rule": "elementwise", "atol": 1e-4, "rtol": 1e-4}
TOL_MAX_REL = {"rule": "max_rel", "max_rel": 1e-4}


def seed_for(name):
    """Stable per-case seed (independent of case order and of the generation prefix)."""
    return zlib.crc32(name.encode("utf8")) & 0x7FFFFFFF


class Case:
    """One fixture model. `build(ctx)` returns an (unbuilt-weights) Keras model."""

    def __init__(self, name, build, gens=("keras3", "tf_keras"), k3_forms=("keras", "h5"),
                 note="", layers=None, tol=None, argmax=False, batch=2, input_scale=1.0,
                 k3_backend="tensorflow", calibrate_bn=False, jw=False, logit_std=None, nonfinite=False):
        assert re.fullmatch(r"[a-z0-9_]+", name), name
        self.name = name
        self.build = build
        self.gens = tuple(gens)
        self.k3_forms = tuple(k3_forms)
        self.note = note
        self.layers = layers
        self.tol = tol or TOL_ELEMENTWISE
        self.argmax = argmax
        self.batch = batch
        self.input_scale = input_scale
        self.k3_backend = k3_backend
        self.calibrate_bn = calibrate_bn
        self.jw = jw              # also (or only) emit a json+weights form
        self.logit_std = logit_std  # for classifiers: rescale final Dense so logits have this std
        self.nonfinite = nonfinite  # inputs carry NaN, +Inf and -Inf at a few seeded positions


class Ctx:
    def __init__(self, K, gen, rng):
        self.K = K
        self.L = K.layers
        self.gen = gen
        self.rng = rng

    @property
    def k3(self):
        return self.gen == "keras3"


# --------------------------------------------------------------------------- model utilities

def all_layers(model, include_ops=False):
    """Every layer, recursing into nested models (each layer object once), in model order.
    include_ops adds (Keras 3) op layers such as x + 3.0 or keras.ops.mean, which are in a
    functional model's `operations` but not in its `layers`."""
    seen = []
    def rec(m):
        ops = getattr(m, "operations", None) if include_ops else None
        for l in (ops if ops is not None else m.layers):
            if any(l is s for s in seen):
                continue
            seen.append(l)
            if hasattr(l, "layers"):
                rec(l)
    rec(model)
    return seen


def layer_classes(model):
    out = []
    for l in all_layers(model, include_ops=True):
        c = type(l).__name__
        if c == "InputLayer":
            continue
        mod = type(l).__module__
        if mod.startswith("keras.src.ops."):
            # Keras 3 op layers (x + 3.0, keras.ops.mean, ...): serialized with this module
            c = "%s.%s" % (mod, c)
        elif c in ("TFOpLambda", "SlicingOpLambda"):
            # tf_keras TF-op layers: config["function"] names the op, e.g. "math.add"
            c = "%s(%s)" % (c, l.get_config().get("function"))
        if c not in out:
            out.append(c)
    return out


def short_var_name(v):
    return re.split(r"/", v.name)[-1].split(":")[0]


def randomize_weights(model, rng):
    """Overwrite every weight variable with seeded random values of a sensible scale."""
    for v in model.weights:
        cur = np.array(v.numpy())
        if not np.issubdtype(cur.dtype, np.floating):
            continue  # e.g. Normalization 'count' (int64): not used at inference
        n = short_var_name(v)
        shape = cur.shape
        if n in ("moving_variance", "variance"):
            new = rng.uniform(0.5, 1.5, shape)
        elif n in ("moving_mean", "mean"):
            new = rng.normal(0.0, 0.5, shape)
        elif n == "gamma":
            new = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape, p=[0.15, 0.85])
        elif n in ("beta", "bias"):
            new = rng.normal(0.0, 0.3, shape)
        elif n == "alpha":  # PReLU
            new = rng.uniform(-0.2, 0.6, shape)
        elif "kernel" in n or n == "embeddings":
            std = float(cur.std())
            if not std > 0:
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
                std = 1.0 / np.sqrt(max(fan_in, 1))
            new = rng.normal(0.0, std, shape)
        else:
            new = rng.normal(0.0, 0.5, shape)
        v.assign(np.asarray(new, dtype=cur.dtype))
    # Normalization caches mean/variance tensors derived from its variables (finalize_state);
    # refresh them so the in-memory model uses the values that get saved.
    for l in all_layers(model):
        if type(l).__name__ == "Normalization" and getattr(l, "input_mean", None) is None:
            l.finalize_state()


def calibrate_bn(model, x_cal, rng):
    """Deep nets with random weights: set BN moving stats to the batch statistics of a random
    calibration batch (momentum 0, one training-mode pass), then jitter them. Keeps activations
    O(1) through many layers so outputs are meaningful. Only weights change; Keras still
    computes every reference output."""
    bns = [l for l in all_layers(model) if type(l).__name__ == "BatchNormalization"]
    saved = [b.momentum for b in bns]
    for b in bns:
        b.momentum = 0.0
    model(x_cal, training=True)
    for b, m in zip(bns, saved):
        b.momentum = m
    for b in bns:
        mv = b.moving_variance
        mm = b.moving_mean
        var = np.array(mv.numpy())
        mv.assign((var * rng.uniform(0.8, 1.25, var.shape)).astype(np.float32))
        mean = np.array(mm.numpy())
        mm.assign((mean + rng.normal(0, 0.05, mean.shape) * np.sqrt(var)).astype(np.float32))


def as_list(y):
    if isinstance(y, (list, tuple)):
        return [np.asarray(t) for t in y]
    if isinstance(y, dict):
        raise TypeError("dict outputs not supported")
    return [np.asarray(y)]


def predict(model, xs):
    y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0, batch_size=max(len(xs[0]), 1))
    return [np.ascontiguousarray(t, dtype="<f4") for t in as_list(y)]


def make_inputs(model, batch, rng, scale=1.0):
    """float inputs ~N(0, scale^2) as <f4; integer inputs (Input(dtype="int32")) as <i4 small
    integers in -50..50."""
    xs = []
    for t in model.inputs:
        shape = [batch] + [int(d) for d in list(t.shape)[1:]]
        dt = np.dtype(getattr(t.dtype, "name", t.dtype))
        if np.issubdtype(dt, np.integer):
            assert dt == np.int32, dt
            xs.append(np.ascontiguousarray(rng.integers(-50, 51, shape), dtype="<i4"))
        else:
            xs.append(np.ascontiguousarray(rng.standard_normal(shape) * scale, dtype="<f4"))
    return xs


def inject_nonfinite(xs, rng):
    """Puts NaN, +Inf and -Inf at seeded positions of each float input (in place)."""
    for x in xs:
        if x.dtype.kind != "f":
            continue
        flat = x.reshape(-1)
        picks = rng.choice(flat.size, size=min(6, flat.size), replace=False)
        for k, i in enumerate(picks):
            flat[i] = (np.nan, np.inf, -np.inf)[k % 3]
    return xs


def max_diffs(a_list, b_list):
    mabs = 0.0
    mrel = 0.0
    for a, b in zip(a_list, b_list):
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        mabs = max(mabs, float(d.max()) if d.size else 0.0)
        ref = float(np.abs(b).max()) if b.size else 0.0
        mrel = max(mrel, (float(d.max()) / ref) if ref > 0 else 0.0)
    return mabs, mrel


def assert_close(y1, y0, what, allow_nonfinite=False):
    assert len(y1) == len(y0), (what, len(y1), len(y0))
    for i, (a, b) in enumerate(zip(y1, y0)):
        assert a.shape == b.shape, (what, i, a.shape, b.shape)
        assert allow_nonfinite or np.all(np.isfinite(a)), (what, i, "non-finite output")
        same = (np.isnan(a) & np.isnan(b)) | (a == b)
        ok = same | (np.abs(a.astype(np.float64) - b) <= RELOAD_ATOL + RELOAD_RTOL * np.abs(b))
        if not ok.all():
            raise AssertionError("%s: output %d differs after reload, max abs %g"
                                 % (what, i, np.abs(a - b).max()))


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def write_case(out_dir, case_name, generation, form, model_file, weights_file, xs, ys,
               tol, argmax, layers, note):
    d = os.path.join(out_dir, case_name)
    ins, outs = [], []
    for i, x in enumerate(xs):
        assert x.dtype.str in ("<f4", "<i4"), x.dtype
        fn = "input_%d.npy" % i
        np.save(os.path.join(d, fn), np.ascontiguousarray(x))
        ins.append(fn)
    for i, y in enumerate(ys):
        fn = "output_%d.npy" % i
        np.save(os.path.join(d, fn), np.ascontiguousarray(y, dtype="<f4"))
        outs.append(fn)
    manifest = {
        "case": case_name,
        "generation": generation,
        "form": form,
        "model": model_file,
        "weights": weights_file,
        "inputs": ins,
        "outputs": outs,
        "tolerance": tol,
        "argmax": bool(argmax),
        "layers": layers,
        "note": note,
    }
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest
