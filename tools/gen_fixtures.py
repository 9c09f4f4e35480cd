#!/usr/bin/env python3
"""Generate dlinfer's Keras test fixtures under Tests/Fixtures/.

Reference = Keras itself. Every case builds a small model, sets all weights to seeded random
values, saves it in the case's file form, reloads the saved file with the same Keras, checks the
reloaded outputs equal the original model's (1e-6) and writes the reloaded model's outputs.

Usage (from the repository root, with a Python that has tensorflow-cpu==2.21.0,
tf_keras==2.21.0, keras 3, jax, h5py, numpy):

    python tools/gen_fixtures.py                      # all generations (wipes and rewrites them)
    python tools/gen_fixtures.py --generation keras3  # or tf_keras, keras2.0
    python tools/gen_fixtures.py --only 'conv2d'      # regex on case base names, no wiping

Each generation runs in its own subprocess(es); Keras 3 runs twice: TensorFlow backend for most
cases, JAX backend for cases TensorFlow cannot compute on CPU, then a JAX cross-check of every
Keras 3 `.keras` fixture (prints backend-vs-backend differences, which justify tolerances).

Folder layout per case (see Tests/Fixtures/README.md): model file(s), input_N.npy, output_N.npy,
manifest.json.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "Tests", "Fixtures")
GENERATIONS = ("keras3", "tf_keras", "keras2.0")
PREFIX = {"keras3": "keras3_", "tf_keras": "tf_keras_", "keras2.0": "keras20_"}

sys.path.insert(0, HERE)


def base_env(backend=None):
    env = dict(os.environ)
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONHASHSEED"] = "0"
    env.pop("TF_USE_LEGACY_KERAS", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    return env


# =============================================================================== driver

def owned_dirs(out, gen):
    p = PREFIX[gen]
    res = []
    for d in sorted(glob.glob(os.path.join(out, p + "*"))):
        name = os.path.basename(d)
        if os.path.isdir(d):
            res.append(d)
    return res


def run_worker(worker, out, only, summary_path, backend=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--out", out,
           "--summary", summary_path]
    if only:
        cmd += ["--only", only]
    print("==> %s" % " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=base_env(backend))
    if r.returncode != 0:
        raise SystemExit("worker %s failed with exit code %d" % (worker, r.returncode))
    with open(summary_path) as f:
        return json.load(f)


def driver(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    gens = GENERATIONS if args.generation == "all" else (args.generation,)
    tmp = os.path.join(out, ".summaries")
    os.makedirs(tmp, exist_ok=True)
    summaries = []
    for g in gens:
        if not args.only:
            for d in owned_dirs(out, g):
                shutil.rmtree(d)
        if g == "keras3":
            summaries.append(run_worker("keras3", out, args.only, os.path.join(tmp, "k3tf.json"), "tensorflow"))
            summaries.append(run_worker("keras3-jax", out, args.only, os.path.join(tmp, "k3jax.json"), "jax"))
            if not args.no_crosscheck:
                summaries.append(run_worker("keras3-crosscheck", out, args.only,
                                            os.path.join(tmp, "k3x.json"), "jax"))
        elif g == "tf_keras":
            summaries.append(run_worker("tf_keras", out, args.only, os.path.join(tmp, "tfk.json")))
        else:
            summaries.append(run_worker("keras2.0", out, args.only, os.path.join(tmp, "k20.json")))
    shutil.rmtree(tmp)

    print("\n================ summary ================")
    written, skipped = [], []
    for s in summaries:
        written += s.get("written", [])
        skipped += s.get("skipped", [])
        for line in s.get("crosscheck", []):
            print("crosscheck", line)
    print("case folders written: %d" % len(written))
    for w in skipped:
        print("SKIPPED %s: %s" % (w[0], w[1]))
    total = 0
    for root, _, files in os.walk(out):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print("total size of %s: %.2f MB" % (out, total / 1e6))


# =============================================================================== workers

class Worker:
    def __init__(self, gen, out, only):
        self.gen = gen
        self.out = out
        self.only = re.compile(only) if only else None
        self.written = []
        self.skipped = []
        self.crosscheck = []

    def selected(self, name):
        return self.only is None or self.only.search(name) is not None


def _import_keras(gen):
    if gen == "keras3":
        import keras as K
    else:
        import tf_keras as K
    return K


def _version_note(K, gen):
    if gen == "keras3":
        return "reference: Keras %s, %s backend" % (K.__version__, K.backend.backend())
    import tensorflow as tf
    return "reference: tf_keras %s (TensorFlow %s)" % (K.__version__, tf.__version__)


def _fix_logits(K, model, xs, target_std):
    """Rescale the final Dense (softmax classifier) so its logits have std ~ target_std on xs.
    Random deep nets otherwise give either saturated or near-uniform softmax outputs."""
    import numpy as np
    last = model.layers[-1]
    assert type(last).__name__ == "Dense", type(last).__name__
    feat = K.Model(model.inputs, last.input)
    h = np.asarray(feat.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    w, b = last.get_weights()
    logits = h @ w + b
    s = target_std / max(float(logits.std()), 1e-6)
    last.set_weights([(w * s).astype(np.float32), (b * s).astype(np.float32)])


def build_case(K, gen, case, unusable_acts=frozenset()):
    import numpy as np
    from fixture_cases.common import Ctx, seed_for, randomize_weights, calibrate_bn, make_inputs
    K.backend.clear_session()
    seed = seed_for(case.name)
    K.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    ctx = Ctx(K, gen, rng)
    ctx.unusable_activations = unusable_acts
    model = case.build(ctx)
    randomize_weights(model, rng)
    if case.calibrate_bn:
        xcal = make_inputs(model, 16, rng)
        calibrate_bn(model, xcal if len(xcal) > 1 else xcal[0], rng)
    if case.logit_std:
        xcal = make_inputs(model, 16, rng)
        _fix_logits(K, model, xcal, case.logit_std)
    xs = make_inputs(model, case.batch, rng, case.input_scale)
    if case.nonfinite:
        from fixture_cases.common import inject_nonfinite
        inject_nonfinite(xs, rng)
    return model, xs


def save_and_check(K, gen, model, xs, case_dir, form):
    """Save `model` in `form` into case_dir, reload with the same Keras, verify, return
    (model_file, weights_file, reloaded outputs, original outputs)."""
    from fixture_cases.common import predict, assert_close
    y0 = predict(model, xs)
    # Helper layers that keras.applications defines for itself load only when named (as Keras
    # itself does inside those architectures).
    custom = {type(l).__name__: type(l) for l in model.layers
              if type(l).__name__ in ("CustomScaleLayer", "LayerScale", "StochasticDepth")}
    if form == "keras":
        mf, wf = "model.keras", None
        model.save(os.path.join(case_dir, mf))
        re_model = K.models.load_model(os.path.join(case_dir, mf), compile=False)
    elif form == "h5":
        mf, wf = "model.h5", None
        model.save(os.path.join(case_dir, mf))
        re_model = K.models.load_model(os.path.join(case_dir, mf), compile=False, custom_objects=custom)
    elif form == "json+weights":
        mf = "model.json"
        wf = "model.weights.h5" if gen == "keras3" else "weights.h5"
        with open(os.path.join(case_dir, mf), "w") as f:
            f.write(model.to_json())
        model.save_weights(os.path.join(case_dir, wf))
        with open(os.path.join(case_dir, mf)) as f:
            re_model = K.models.model_from_json(f.read())
        re_model.load_weights(os.path.join(case_dir, wf))
    else:
        raise ValueError(form)
    y1 = predict(re_model, xs)
    import numpy as np
    nonfinite_inputs = any(x.dtype.kind == "f" and not np.isfinite(x).all() for x in xs)
    assert_close(y1, y0, "%s (%s)" % (case_dir, form), allow_nonfinite=nonfinite_inputs)
    return mf, wf, y1, y0, re_model


def _activation_info(model, case, gen):
    from fixture_cases.layer_cases import ACTIVATION_NOTES
    extra = []
    for l in model.layers:
        if type(l).__name__ == "Activation":
            stored = l.get_config().get("activation")
            extra.append("%s -> config activation %r" % (l.name, stored))
    name = case.name[4:] if case.name.startswith("act_") else None
    if name and name in ACTIVATION_NOTES and gen in ACTIVATION_NOTES[name]:
        extra.insert(0, ACTIVATION_NOTES[name][gen])
    return extra


def _xla_diff_note(model, xs, ref):
    """tf_keras reference vs the same model compiled by XLA (different CPU kernels and summation
    order): float32 reordering evidence for the tolerance."""
    import numpy as np
    import tensorflow as tf
    from fixture_cases.common import max_diffs, as_list
    f = tf.function(lambda *a: model(list(a) if len(a) > 1 else a[0], training=False), jit_compile=True)
    y = [np.asarray(t, dtype=np.float32) for t in as_list(f(*[tf.constant(x) for x in xs]))]
    mabs, mrel = max_diffs(y, ref)
    print("   xla-vs-reference max abs %.3g max rel %.3g" % (mabs, mrel))
    return "TF XLA (jit_compile) vs this reference: max abs %.3g, max rel %.3g" % (mabs, mrel)


def worker_generate(w, backend):
    """keras3 (TF or JAX backend) and tf_keras layer + whole-model cases."""
    import numpy as np
    K = _import_keras(w.gen)
    from fixture_cases import layer_cases, whole_models
    from fixture_cases.common import (fresh_dir, write_case, layer_classes, max_diffs)
    vnote = _version_note(K, w.gen)

    unusable = set()
    names = layer_cases.KERAS3_ACTIVATIONS if w.gen == "keras3" else layer_cases.TF_KERAS_ACTIVATIONS
    for n in names:
        try:
            K.backend.clear_session()
            K.layers.Activation(n)(np.zeros((1, 4, 6), np.float32))
        except Exception as e:  # noqa
            unusable.add(n)
            print("activation %r not usable as Activation(%r): %s" % (n, n, str(e).splitlines()[0]))
    if w.gen == "keras3":
        import keras.src.activations as A
        avail = set(getattr(A, "ALL_OBJECTS_DICT", {}).keys())
        if avail and avail != set(layer_cases.KERAS3_ACTIVATIONS):
            print("WARNING: Keras 3 activation names differ from the list: +%s -%s"
                  % (sorted(avail - set(names)), sorted(set(names) - avail)))

    cases = layer_cases.CASES + whole_models.CASES
    for case in cases:
        if w.gen not in case.gens:
            continue
        if w.gen == "keras3" and case.k3_backend != backend:
            continue
        if not w.selected(case.name):
            continue
        if w.gen == "keras3":
            forms = [("keras" if f == "keras" else "h5") for f in case.k3_forms]
        else:
            forms = ["h5"] if case.k3_forms or not case.jw else []
        if case.jw:
            forms.append("json+weights")
        if case.name.startswith("act_") and case.name[4:] in unusable:
            w.skipped.append([PREFIX[w.gen] + case.name,
                              "activation %r cannot be used by name in Activation() (needs extra "
                              "arguments) -- untested" % case.name[4:]])
            continue
        try:
            model, xs = build_case(K, w.gen, case, frozenset(unusable))
        except Exception as e:
            traceback.print_exc()
            w.skipped.append([PREFIX[w.gen] + case.name, "build failed: %s" % str(e).splitlines()[0]])
            continue
        layers = case.layers or layer_classes(model)
        for form in forms:
            suffix = "_h5" if (w.gen == "keras3" and form == "h5") else ""
            cname = PREFIX[w.gen] + case.name + suffix
            d = os.path.join(w.out, cname)
            fresh_dir(d)
            try:
                mf, wf, y1, y0, re_model = save_and_check(K, w.gen, model, xs, d, form)
            except Exception as e:
                traceback.print_exc()
                shutil.rmtree(d)
                w.skipped.append([cname, "%s save/reload failed: %s" % (form, str(e).splitlines()[0][:300])])
                continue
            note_parts = [case.note]
            if w.gen == "keras3" and backend == "jax":
                note_parts.append("reference from Keras 3 on the JAX backend: TensorFlow's CPU kernels "
                                  "cannot compute this (conv_transpose with dilation_rate > 1)")
            note_parts += _activation_info(model, case, w.gen)
            if case.name == "activations_all":
                note_parts.append("outputs in order: " + ", ".join(
                    n for n in layer_cases.KERAS3_ACTIVATIONS if n not in unusable))
                if unusable:
                    note_parts.append("not included (need extra args): " + ", ".join(sorted(unusable)))
            if case.argmax:
                mabs, mrel = max_diffs(y1, y0)
                top = [float(np.sort(y, axis=-1)[..., -1].max()) for y in y1]
                note_parts.append("original vs reloaded: max abs %.3g, max rel %.3g; max softmax prob %.3f"
                                  % (mabs, mrel, max(top)))
            if case.argmax and w.gen == "tf_keras":
                note_parts.append(_xla_diff_note(re_model, xs, y1))
            note_parts.append(vnote)
            write_case(w.out, cname, w.gen, form, mf, wf, xs, y1, case.tol, case.argmax, layers,
                       "; ".join(p for p in note_parts if p))
            w.written.append(cname)
            print("wrote %-45s %-13s outputs %s" % (cname, form, [tuple(y.shape) for y in y1]), flush=True)


def worker_crosscheck(w):
    """Reload every TF-generated Keras 3 `.keras` fixture on the JAX backend and compare with the
    stored reference. Reports backend-vs-backend float32 differences (tolerance evidence); for the
    whole models the numbers are appended to the manifest note."""
    import numpy as np
    import keras
    from fixture_cases.common import max_diffs
    for mpath in sorted(glob.glob(os.path.join(w.out, "keras3_*", "manifest.json"))):
        with open(mpath) as f:
            m = json.load(f)
        if m["form"] not in ("keras", "json+weights") or "JAX backend" in m["note"]:
            continue
        if not w.selected(m["case"][len("keras3_"):]):
            continue
        d = os.path.dirname(mpath)
        if m["form"] == "keras":
            model = keras.models.load_model(os.path.join(d, m["model"]), compile=False)
        else:
            with open(os.path.join(d, m["model"])) as f:
                model = keras.models.model_from_json(f.read())
            model.load_weights(os.path.join(d, m["weights"]))
        xs = [np.load(os.path.join(d, p)) for p in m["inputs"]]
        refs = [np.load(os.path.join(d, p)) for p in m["outputs"]]
        y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        ys = [np.asarray(t, dtype=np.float32) for t in (y if isinstance(y, (list, tuple)) else [y])]
        mabs, mrel = max_diffs(ys, refs)
        elem_ok = all(np.all(np.abs(a - b) <= 1e-4 + 1e-4 * np.abs(b)) for a, b in zip(ys, refs))
        argmax_ok = all(np.array_equal(a.argmax(-1), b.argmax(-1)) for a, b in zip(ys, refs))
        line = "%-40s jax-vs-tf max abs %.3g  max rel(to max|ref|) %.3g  elementwise-1e-4 %s%s" % (
            m["case"], mabs, mrel, "ok" if elem_ok else "FAIL",
            ("  argmax %s" % ("ok" if argmax_ok else "DIFF")) if m["argmax"] else "")
        print(line, flush=True)
        w.crosscheck.append(line)
        if m["argmax"]:
            for other in (m["case"], m["case"] + "_h5"):
                op = os.path.join(w.out, other, "manifest.json")
                if not os.path.exists(op):
                    continue
                with open(op) as f:
                    om = json.load(f)
                om["note"] += ("; Keras 3 JAX backend vs this TF reference: max abs %.3g, max rel %.3g"
                               % (mabs, mrel))
                with open(op, "w") as f:
                    json.dump(om, f, indent=2)
                    f.write("\n")


def worker_keras20(w):
    import numpy as np
    import tf_keras as K
    import tensorflow as tf
    from fixture_cases import keras20
    from fixture_cases.common import (fresh_dir, write_case, layer_classes, seed_for, randomize_weights,
                                      make_inputs, predict, assert_close, TOL_ELEMENTWISE)
    for name, builder, suffix, note in keras20.K20_CASES:
        if not w.selected(name):
            continue
        cname = PREFIX["keras2.0"] + name
        K.backend.clear_session()
        seed = seed_for("keras20_" + name)
        K.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        model = builder(K)
        randomize_weights(model, rng)
        xs = make_inputs(model, 2, rng)
        y0 = predict(model, xs)
        d = os.path.join(w.out, cname)
        fresh_dir(d)
        path = os.path.join(d, "model.h5")
        keras20.write_h5_2_0(model, path, suffix=suffix)
        K.backend.clear_session()
        re_model = K.models.load_model(path, compile=False)
        y1 = predict(re_model, xs)
        assert_close(y1, y0, cname)
        paths = "`<layer>/<layer>%s/<weight>:0`" % suffix
        full = ("%s; Keras 2.0.8 layout written with h5py from a tf_keras model: root attrs keras_version "
                "b'2.0.8' / backend b'tensorflow' / model_config as fixed-length byte strings, layer_names "
                "and weight_names fixed-length byte-string arrays, empty weight_names stored as an empty "
                "float64 array, dataset paths %s, 2.0-era layer configs (no dtype except on the input, "
                "no groups/keepdims, VarianceScaling initializers); tf_keras %s (TF %s) loads it and gives "
                "the same outputs, which are the reference" % (note, paths, K.__version__, tf.__version__))
        write_case(w.out, cname, "keras2.0", "h5", "model.h5", None, xs, y1, TOL_ELEMENTWISE, False,
                   layer_classes(model), full)
        w.written.append(cname)
        print("wrote %-45s h5 (2.0.8 layout) outputs %s" % (cname, [tuple(y.shape) for y in y1]), flush=True)


def worker_main(args):
    w = Worker({"keras3": "keras3", "keras3-jax": "keras3", "keras3-crosscheck": "keras3",
                "tf_keras": "tf_keras", "keras2.0": "keras2.0"}[args.worker], os.path.abspath(args.out),
               args.only)
    if args.worker == "keras3":
        assert os.environ.get("KERAS_BACKEND") == "tensorflow"
        worker_generate(w, "tensorflow")
    elif args.worker == "keras3-jax":
        assert os.environ.get("KERAS_BACKEND") == "jax"
        worker_generate(w, "jax")
    elif args.worker == "keras3-crosscheck":
        worker_crosscheck(w)
    elif args.worker == "tf_keras":
        worker_generate(w, None)
    elif args.worker == "keras2.0":
        worker_keras20(w)
    with open(args.summary, "w") as f:
        json.dump({"written": w.written, "skipped": w.skipped, "crosscheck": w.crosscheck}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generation", default="all", choices=("all",) + GENERATIONS)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", default=None, help="regex on case base names (no wiping)")
    ap.add_argument("--no-crosscheck", action="store_true", help="skip the Keras 3 JAX cross-check")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--summary", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
