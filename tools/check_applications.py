#!/usr/bin/env python3
"""Check that every keras.applications CNN (weights=None) loads in dlinfer as saved and matches Keras.

Run in a virtualenv with tensorflow-cpu==2.21.0, tf_keras==2.21.0, keras and h5py (as for tools/gen_fixtures.py),
after `swift build -c release`:

    python tools/check_applications.py                 # everything, both generations
    python tools/check_applications.py --only ResNet50,ConvNeXtTiny --generation keras3
    python tools/check_applications.py --skip-large    # without the 12 largest variants
    python tools/check_applications.py --per-layer     # name the first deviating layer of a MISMATCH
    python tools/check_applications.py --list          # what would run

For each generation (Keras 3 `keras.applications`, tf_keras `tf_keras.applications`) and each
architecture the generation exports, a worker subprocess (its own memory, a timeout):

1. builds the model with weights=None, a fixed seed, the smallest input size the architecture
   accepts and include_top=True, classes=10 (every application allows a custom class count when
   weights=None). By default the head is built with classifier_activation=None so that the
   comparison sees logits: with random weights the logits are often so large that a softmax is
   exactly one-hot and would hide errors in the trunk (--softmax keeps Keras's default head);
2. gives the moving statistics of every BatchNormalization non-trivial seeded values
   (mean ~ U(-0.2, 0.2), variance ~ U(0.5, 1.5)); for the same reason ("the default init makes the
   layer an identity") it also randomizes the adapt-statistics of Normalization layers whose
   mean/variance are weights (EfficientNet B*) and the gamma of ConvNeXt's LayerScale (init 1e-6,
   which would make every ConvNeXt block invisible in the output). --bn-only limits the change to
   BatchNormalization. All other weights stay as initialized.
   Conditioning check: Keras predicts again on the input times (1 + 1e-6 * noise). If its own output
   moves by more than the tolerance, the random network is chaotic (deep EfficientNetV2 / ResNetRS
   are, with BN scales 1/sqrt(U(0.5, 1.5))) and no float32 engine could match it; the model is then
   rebuilt with the same seed and BN variance ~ U(1, 2) (contracting), and the row says so. If even
   that is chaotic, a failing comparison is reported as ILL-COND instead of MISMATCH;
3. predicts on a seeded batch of 2, saves `.h5` (both generations) and `.keras` (Keras 3 only),
   reloads each file with Keras and takes the reloaded model's predictions as the reference (after
   checking they agree with the original model's);
4. then a second subprocess per file (no TensorFlow in it) loads the file with dlinfer, runs the
   same input and compares.

Pass rule (DESIGN.md "Numerics contract", deep whole models): max|y - ref| <= 1e-4 * max|ref|, and
the argmax of every row agrees (a disagreement where the two classes' reference scores are within
that same tolerance of each other is a numerical tie and is reported as "argmax tie", not a failure).

Statuses: PASS; MISMATCH (error figures); ILL-COND (see 2); LOAD-ERROR / RUN-ERROR (first line of dlinfer's message);
CRASH / TIMEOUT (the dlinfer subprocess died or hung); KERAS-ERROR (Keras itself could not build,
save, reload or reproduce the model - the dlinfer verdict against the original model's outputs is
then still given in the detail when a file exists).

The libdlinfer.so under test (--lib, default $DLINFER_LIB or .build/release) is copied once at the
start, so a rebuild during a long run cannot mix engine versions; its sha256 is in the report.
--per-layer: for a MISMATCH, the same model is rebuilt with every layer's output as a model output
and the first deviating layers are named (if none deviate, the fault is in a pass that only touches
internal tensors, e.g. fusion or buffer reuse).

The table goes to stdout, the same rows (plus the layer-class inventory of every file) to
<out>/report.json (default /tmp/apps). Model files are deleted after each check unless --keep.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GENERATIONS = ("keras3", "tf_keras")
TOLERANCE = 1e-4          # max|y - ref| <= TOLERANCE * max|ref|
RELOAD_TOLERANCE = 1e-5   # reloaded Keras model vs. the original, relative to max|ref|
BN_VARIANCE = (0.5, 1.5)        # BatchNormalization moving_variance ~ U(lo, hi); mean ~ U(-0.2, 0.2)
BN_VARIANCE_TAME = (1.0, 2.0)   # fallback when the network is chaotic with the above (see _sensitivity)
BATCH = 2
NUM_CLASSES = 10

# Smallest square input each architecture accepts (imagenet_utils.obtain_input_shape's min_size,
# and what the architecture's own strides/croppings survive). Anything not listed: 32.
MIN_SIZE = {"Xception": 71, "InceptionV3": 75, "InceptionResNetV2": 75}

# Families whose graph starts with their own preprocessing (Rescaling 1/255 etc.): feed 0..255.
RAW_PIXEL_PREFIXES = ("EfficientNet", "ConvNeXt", "MobileNetV3", "RegNet", "ResNetRS")

# The very largest variants. At 32x32 inputs even these take well under a minute each on 2 cores
# (ConvNeXtXLarge, 348M parameters: ~1 min), so a default run includes them; --skip-large leaves
# them out for a quicker pass (the smallest member of each family always runs).
LARGE = {
    "ConvNeXtLarge", "ConvNeXtXLarge",
    "EfficientNetB6", "EfficientNetB7", "EfficientNetV2L",
    "RegNetX160", "RegNetX320", "RegNetY160", "RegNetY320",
    "ResNetRS270", "ResNetRS350", "ResNetRS420",
}

DEFAULT_LIB = os.path.join(REPO, ".build", "release", "libdlinfer.so")
ENV = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0",
           CUDA_VISIBLE_DEVICES="")


def seed_for(gen, name):
    return zlib.crc32(("%s/%s" % (gen, name)).encode()) & 0x7FFFFFFF


def input_size(name):
    return MIN_SIZE.get(name, 32)


def input_range(name):
    return (0.0, 255.0) if name.startswith(RAW_PIXEL_PREFIXES) else (-1.0, 1.0)


# =========================================================================== Keras worker

def _import_generation(gen):
    if gen == "keras3":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras as K
        pkg = "keras.src.applications"
    else:
        import tf_keras as K
        pkg = "tf_keras.src.applications"
    return K, pkg


def _application_names(K):
    import inspect
    names = []
    for n in dir(K.applications):
        obj = getattr(K.applications, n)
        if n[:1].isupper() and callable(obj) and inspect.isfunction(obj):
            names.append(n)
    return sorted(names)


def _custom_objects(K, pkg):
    """Every Layer subclass the application modules define (CustomScaleLayer, LayerScale, ...)."""
    import importlib
    import inspect
    import pkgutil
    base = importlib.import_module(pkg)
    found = {}
    for info in pkgutil.iter_modules(base.__path__):
        if info.name.endswith("_test"):
            continue
        try:
            mod = importlib.import_module(pkg + "." + info.name)
        except Exception:
            continue
        for n, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, K.layers.Layer) and obj.__module__ == mod.__name__:
                found[n] = obj
    return found


def _iter_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # nested models (none today, but be safe)
            yield from _iter_layers(layer)


def _randomize(K, model, rng, bn_only, bn_var=None):
    bn_var = bn_var or BN_VARIANCE
    counts = {"BatchNormalization": 0, "Normalization": 0, "LayerScale": 0}
    for layer in _iter_layers(model):
        cls = type(layer).__name__
        if isinstance(layer, K.layers.BatchNormalization):
            mm, mv = layer.moving_mean, layer.moving_variance
            shape = tuple(mm.shape)
            mm.assign(rng.uniform(-0.2, 0.2, shape).astype("float32"))
            mv.assign(rng.uniform(bn_var[0], bn_var[1], shape).astype("float32"))
            counts["BatchNormalization"] += 1
        elif bn_only:
            continue
        elif cls == "Normalization" and getattr(layer, "adapt_mean", None) is not None \
                and getattr(layer, "input_mean", None) is None:
            shape = tuple(layer.adapt_mean.shape)
            layer.adapt_mean.assign(rng.uniform(-0.2, 0.2, shape).astype("float32"))
            layer.adapt_variance.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            layer.finalize_state()
            counts["Normalization"] += 1
        elif cls == "LayerScale" and hasattr(layer, "gamma"):
            shape = tuple(layer.gamma.shape)
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            counts["LayerScale"] += 1
    return counts


def _saved_config(path):
    """model_config of a legacy .h5, or config.json of a .keras archive, as a dict."""
    if path.endswith(".keras"):
        import zipfile
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    import h5py
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        if isinstance(raw, bytes):
            raw = raw.decode("utf8")
        return json.loads(raw)


CORE_MODULES = ("keras.layers", "keras.src.layers")


def _inventory(config):
    """Layer classes of a saved functional model: counts, and the first instance of each in full."""
    layers = config["config"]["layers"]
    counts, examples = {}, {}
    for layer in layers:
        key = layer["class_name"]
        mod = layer.get("module")
        if mod and not mod.startswith(CORE_MODULES):
            key = "%s.%s" % (mod, key)
        counts[key] = counts.get(key, 0) + 1
        if key not in examples:
            examples[key] = layer
    return counts, examples


def _max_abs(a):
    import numpy as np
    return float(np.max(np.abs(a))) if a.size else 0.0


def _build(K, gen, name, kwargs, in_range, bn_var, bn_only, meta):
    """Seeded build + randomization + input + Keras prediction (deterministic for given arguments)."""
    import numpy as np
    seed = seed_for(gen, name)
    K.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = getattr(K.applications, name)(**kwargs)
    meta["params"] = int(model.count_params())
    meta["layers"] = len(model.layers)
    meta["randomized"] = _randomize(K, model, rng, bn_only, bn_var)
    x = rng.uniform(in_range[0], in_range[1], (BATCH,) + tuple(kwargs["input_shape"])).astype("float32")
    y0 = np.asarray(model.predict(x, verbose=0), dtype=np.float32)
    return model, x, y0


def _sensitivity(model, x, y0, eps=1e-6):
    """How far Keras's own output moves (relative to max|y|) under relative input noise eps."""
    import numpy as np
    noise = np.random.default_rng(12345).standard_normal(x.shape)
    xp = (x * (1.0 + eps * noise)).astype("float32")
    yp = np.asarray(model.predict(xp, verbose=0), dtype=np.float32)
    return _max_abs(yp - y0) / max(_max_abs(y0), 1e-30)


def keras_worker(args):
    import numpy as np
    gen, name, outdir = args.generation, args.arch, args.outdir
    os.makedirs(outdir, exist_ok=True)
    meta = {"generation": gen, "arch": name, "forms": {}}

    def dump():
        with open(os.path.join(outdir, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)

    t0 = time.time()
    try:
        K, pkg = _import_generation(gen)
        meta["keras_version"] = K.__version__
        size = input_size(name)
        kwargs = dict(weights=None, input_shape=(size, size, 3), include_top=True, classes=NUM_CLASSES)
        if not args.softmax:
            kwargs["classifier_activation"] = None
        meta["build_kwargs"] = dict(kwargs)
        lo, hi = input_range(name)
        meta["input"] = {"shape": [BATCH, size, size, 3], "range": [lo, hi]}
        for attempt, bn_var in enumerate((BN_VARIANCE, BN_VARIANCE_TAME)):
            model, x, y0 = _build(K, gen, name, kwargs, (lo, hi), bn_var, args.bn_only, meta)
            sens = _sensitivity(model, x, y0)
            meta["bn_variance"] = list(bn_var)
            meta["keras_sensitivity"] = sens
            if sens <= TOLERANCE or bn_var == BN_VARIANCE_TAME:
                break
            # Deep random networks with BN scales above 1 can be chaotic: Keras's own output then
            # moves by more than the tolerance under float32-rounding-sized input noise, and no
            # engine could match it. Rebuild (same seed) with contracting BN variances instead.
            meta["retuned"] = "Keras moved rel %.3g under 1e-6 input noise with BN variance U%s; rebuilt with U%s" % (
                sens, tuple(bn_var), tuple(BN_VARIANCE_TAME))
            del model
            K.backend.clear_session()
        meta["ill_conditioned"] = bool(meta["keras_sensitivity"] > TOLERANCE)
        np.save(os.path.join(outdir, "input.npy"), x)
        np.save(os.path.join(outdir, "ref_original.npy"), y0)
        meta["ref_original"] = {"shape": list(y0.shape), "max_abs": _max_abs(y0),
                                "finite": bool(np.all(np.isfinite(y0)))}
    except Exception as e:  # Keras could not build / run it
        meta["keras_error"] = "build: %s: %s" % (type(e).__name__, _first_line(str(e)))
        meta["keras_seconds"] = round(time.time() - t0, 1)
        dump()
        return
    meta["build_seconds"] = round(time.time() - t0, 1)
    dump()

    custom = _custom_objects(K, pkg)
    forms = ("h5", "keras") if gen == "keras3" else ("h5",)
    for form in forms:
        tf0 = time.time()
        rec = meta["forms"].setdefault(form, {})
        path = os.path.join(outdir, "model." + form)
        try:
            model.save(path)
        except Exception as e:
            rec["keras_error"] = "save: %s: %s" % (type(e).__name__, _first_line(str(e)))
            rec["keras_seconds"] = round(time.time() - tf0, 1)
            dump()
            continue
        rec["file"] = path
        rec["file_mb"] = round(os.path.getsize(path) / 2**20, 1)
        try:
            counts, examples = _inventory(_saved_config(path))
            rec["layer_classes"] = counts
            with open(os.path.join(outdir, "layers_%s.json" % form), "w") as f:
                json.dump(examples, f, indent=1)
        except Exception as e:
            rec["inventory_error"] = "%s: %s" % (type(e).__name__, _first_line(str(e)))
        try:
            m2 = K.models.load_model(path, custom_objects=custom, compile=False, safe_mode=False)
            y = np.asarray(m2.predict(x, verbose=0), dtype=np.float32)
            del m2
        except Exception as e:
            rec["keras_error"] = "reload: %s: %s" % (type(e).__name__, _first_line(str(e)))
            rec["ref"] = "ref_original.npy"
            rec["keras_seconds"] = round(time.time() - tf0, 1)
            dump()
            continue
        scale = max(_max_abs(y0), 1e-30)
        d = _max_abs(y - y0) if y.shape == y0.shape else float("inf")
        rec["reload_max_abs_err"] = d
        rec["reload_rel_err"] = d / scale
        if not (d <= RELOAD_TOLERANCE * scale):
            rec["keras_error"] = "reload differs from the original model: max abs %.3g (rel %.3g)" % (d, d / scale)
            rec["ref"] = "ref_original.npy"
        elif not np.all(np.isfinite(y)):
            rec["keras_error"] = "Keras reference output is not finite"
            rec["ref"] = "ref_%s.npy" % form
            np.save(os.path.join(outdir, rec["ref"]), y)
        else:
            rec["ref"] = "ref_%s.npy" % form
            np.save(os.path.join(outdir, rec["ref"]), y)
        rec["keras_seconds"] = round(time.time() - tf0, 1)
        dump()
    meta["keras_seconds"] = round(time.time() - t0, 1)
    dump()


def perlayer_keras_worker(args):
    """Rebuild the checked model exactly, expose every layer's output, save it in one form + references."""
    import numpy as np
    meta = json.load(open(os.path.join(args.outdir, "meta.json")))
    K, _ = _import_generation(args.generation)
    kwargs = dict(meta["build_kwargs"])
    kwargs["input_shape"] = tuple(kwargs["input_shape"])
    scratch = {}
    model, x, _ = _build(K, args.generation, args.arch, kwargs, tuple(meta["input"]["range"]),
                         tuple(meta["bn_variance"]), args.bn_only, scratch)
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    sub = K.Model(model.inputs, [l.output for l in layers], name="per_layer")
    refs = sub.predict(x, verbose=0)
    path = os.path.join(args.outdir, "perlayer." + args.perlayer_form)
    sub.save(path)
    np.savez(os.path.join(args.outdir, "perlayer_refs.npz"), *[np.asarray(r, dtype=np.float32) for r in refs])
    with open(os.path.join(args.outdir, "perlayer_layers.json"), "w") as f:
        json.dump([[l.name, type(l).__name__] for l in layers], f)
    print("PERLAYER " + path)


def perlayer_dlinfer_worker(args):
    """Compare every exposed layer output; report the first deviating layers in graph order."""
    import numpy as np
    sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
    import dlinfer
    x = np.load(args.input)
    names = json.load(open(os.path.join(os.path.dirname(args.file), "perlayer_layers.json")))
    refs = np.load(os.path.join(os.path.dirname(args.file), "perlayer_refs.npz"))
    res = {"layers": len(names)}
    try:
        ys = dlinfer.Model(args.file).run([x])
    except dlinfer.DLInferError as e:
        res["error"] = _first_line(str(e))
        print("RESULT " + json.dumps(res))
        return
    bad = []
    for i, ((lname, cls), y) in enumerate(zip(names, ys)):
        r = refs["arr_%d" % i]
        y = np.asarray(y, dtype=np.float32)
        if y.shape != r.shape:
            bad.append("%s (%s): shape %s vs %s" % (lname, cls, list(y.shape), list(r.shape)))
        else:
            scale = max(_max_abs(r), 1e-30)
            d = _max_abs(y - r) if np.all(np.isfinite(y)) else float("inf")
            if not d <= TOLERANCE * scale:
                bad.append("%s (%s): rel %.3g" % (lname, cls, d / scale))
        if len(bad) >= 5:
            break
    res["first_deviating"] = bad
    print("RESULT " + json.dumps(res))


def per_layer(gen, name, form, outdir, args):
    """Rerun a failing case with every layer output exposed; returns a short text for the detail."""
    cmd = [sys.executable, __file__, "--worker", "perlayer-keras", "--generation", gen, "--arch", name,
           "--outdir", outdir, "--perlayer-form", form] + (["--bn-only"] if args.bn_only else [])
    rc, out, err = _run(cmd, args.timeout)
    path = os.path.join(outdir, "perlayer." + form)
    if rc != 0 or not os.path.exists(path):
        return "per-layer: Keras could not build the per-layer model (%s)" % _stderr_reason(err)
    rc, out, err = _run([sys.executable, __file__, "--worker", "perlayer-dlinfer", "--file", path,
                         "--input", os.path.join(outdir, "input.npy")], args.dl_timeout)
    res = None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
    if res is None:
        return "per-layer: dlinfer worker exit %s: %s" % (rc, _stderr_reason(err))
    if "error" in res:
        return "per-layer: dlinfer cannot load the per-layer model: " + res["error"]
    if not res["first_deviating"]:
        return ("per-layer: all %d layer outputs match when exposed as outputs (so the fault is in a pass "
                "that only applies to internal tensors: fusion / in-place / arena reuse)" % res["layers"])
    return "per-layer: first deviating: " + "; ".join(res["first_deviating"])


def _first_line(msg):
    for line in str(msg).splitlines():
        if line.strip():
            return line.strip()
    return str(msg).strip()


# =========================================================================== dlinfer worker

def compare(y, ref):
    """Verdict dict for dlinfer output y vs. Keras reference ref (numpy arrays)."""
    import numpy as np
    out = {}
    if y.shape != ref.shape:
        out.update(status="MISMATCH", detail="shape %s vs Keras %s" % (list(y.shape), list(ref.shape)))
        return out
    scale = _max_abs(ref)
    finite = bool(np.all(np.isfinite(y)))
    err = _max_abs(y - ref) if finite else float("inf")
    rel = err / scale if scale > 0 else (0.0 if err == 0 else float("inf"))
    out.update(max_abs_err=err, max_abs_ref=scale, rel_err=rel)
    tol = TOLERANCE * scale
    notes = []
    argmax_ok = True
    if ref.ndim == 2 and ref.shape[1] > 1:
        ra, ya = ref.argmax(axis=1), (y.argmax(axis=1) if finite else None)
        agree = int(np.sum(ra == ya)) if finite else 0
        out["argmax_agree"] = "%d/%d" % (agree, ref.shape[0])
        if finite and agree != ref.shape[0]:
            for row in np.nonzero(ra != ya)[0]:
                if ref[row, ya[row]] >= ref[row, ra[row]] - tol:
                    notes.append("argmax tie row %d" % row)
                else:
                    argmax_ok = False
    if finite and err <= tol and argmax_ok:
        out["status"] = "PASS"
        out["detail"] = "rel %.2e" % rel + ("; " + ", ".join(notes) if notes else "")
    else:
        out["status"] = "MISMATCH"
        if not finite:
            out["detail"] = "dlinfer output not finite"
        else:
            out["detail"] = "max|d| %.3g, max|ref| %.3g, rel %.3g, argmax %s" % (
                err, scale, rel, out.get("argmax_agree", "n/a"))
    return out


def dlinfer_worker(args):
    import numpy as np
    sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
    import dlinfer
    x = np.load(args.input)
    ref = np.load(args.ref)
    res = {}
    t0 = time.time()
    try:
        model = dlinfer.Model(args.file)
    except dlinfer.DLInferError as e:
        res.update(status="LOAD-ERROR", detail=_first_line(str(e)), message=str(e)[:4000],
                   load_seconds=round(time.time() - t0, 2))
        print("RESULT " + json.dumps(res))
        return
    res["load_seconds"] = round(time.time() - t0, 2)
    t1 = time.time()
    try:
        y = model.run([x])
    except dlinfer.DLInferError as e:
        res.update(status="RUN-ERROR", detail=_first_line(str(e)), message=str(e)[:4000])
        print("RESULT " + json.dumps(res))
        return
    res["run_seconds"] = round(time.time() - t1, 3)
    y = np.asarray(y[0] if isinstance(y, (list, tuple)) else y, dtype=np.float32)
    res.update(compare(y, ref))
    print("RESULT " + json.dumps(res))


# =========================================================================== orchestration

def _run(cmd, timeout):
    """Run a worker; returns (returncode or 'TIMEOUT', stdout, stderr tail)."""
    try:
        p = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True)
        return p.returncode, p.stdout, p.stderr[-3000:]
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return "TIMEOUT", "", err[-3000:]


def list_architectures(gen, timeout):
    rc, out, err = _run([sys.executable, __file__, "--worker", "list", "--generation", gen], timeout)
    for line in out.splitlines():
        if line.startswith("NAMES "):
            return json.loads(line[6:])
    raise SystemExit("could not list %s applications (rc %s):\n%s" % (gen, rc, err))


def _stderr_reason(err):
    lines = [l for l in err.splitlines() if l.strip() and "cuda" not in l.lower() and "absl" not in l]
    return lines[-1].strip()[:300] if lines else ""


def check_one(gen, name, args):
    outdir = os.path.join(args.out, gen, name)
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    rows = []
    base = {"generation": gen, "arch": name, "input": input_size(name)}
    t0 = time.time()
    cmd = [sys.executable, __file__, "--worker", "keras", "--generation", gen, "--arch", name,
           "--outdir", outdir]
    if args.softmax:
        cmd.append("--softmax")
    if args.bn_only:
        cmd.append("--bn-only")
    rc, _, err = _run(cmd, args.timeout)
    keras_wall = round(time.time() - t0, 1)
    base["keras_wall_seconds"] = keras_wall  # the whole Keras worker: build, predict, save + reload each form
    meta_path = os.path.join(outdir, "meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    base["params"] = meta.get("params")
    forms = ["h5", "keras"] if gen == "keras3" else ["h5"]
    if rc != 0 or "keras_error" in meta:
        reason = meta.get("keras_error") or ("worker timed out after %ss" % args.timeout if rc == "TIMEOUT"
                                             else "worker exit %s: %s" % (rc, _stderr_reason(err)))
        for form in forms:
            frec = meta.get("forms", {}).get(form, {})
            if frec.get("file") and frec.get("ref"):
                continue  # finished before the worker died: judge it below
            rows.append(dict(base, form=form, status="KERAS-ERROR", detail=reason))
        forms = [f for f in forms if meta.get("forms", {}).get(f, {}).get("file")
                 and meta["forms"][f].get("ref")]
    for form in forms:
        frec = meta["forms"].get(form, {})
        row = dict(base, form=form, keras_seconds=frec.get("keras_seconds"),
                   build_seconds=meta.get("build_seconds"), file_mb=frec.get("file_mb"),
                   reload_rel_err=frec.get("reload_rel_err"), layer_classes=frec.get("layer_classes"),
                   randomized=meta.get("randomized"), bn_variance=meta.get("bn_variance"),
                   keras_sensitivity=meta.get("keras_sensitivity"))
        if "keras_error" in frec and not frec.get("file"):
            row.update(status="KERAS-ERROR", detail=frec["keras_error"])
            rows.append(row)
            continue
        rc, out, err = _run([sys.executable, __file__, "--worker", "dlinfer", "--file", frec["file"],
                             "--input", os.path.join(outdir, "input.npy"),
                             "--ref", os.path.join(outdir, frec["ref"])], args.dl_timeout)
        res = None
        for line in out.splitlines():
            if line.startswith("RESULT "):
                res = json.loads(line[7:])
        if res is None:
            if rc == "TIMEOUT":
                res = {"status": "TIMEOUT", "detail": "dlinfer worker exceeded %ss" % args.dl_timeout}
            else:
                res = {"status": "CRASH", "detail": "dlinfer worker exit %s: %s" % (rc, _stderr_reason(err))}
        row.update(res)
        if meta.get("ill_conditioned") and row["status"] == "MISMATCH":
            row["status"] = "ILL-COND"
            row["detail"] = "Keras itself moves rel %.3g under 1e-6 input noise; %s" % (
                meta["keras_sensitivity"], row.get("detail", ""))
        if meta.get("retuned"):
            row["retuned"] = meta["retuned"]
            row["detail"] = row.get("detail", "") + " [BN variance U%s: chaotic with U%s]" % (
                tuple(BN_VARIANCE_TAME), tuple(BN_VARIANCE))
        if "keras_error" in frec:  # Keras could not reproduce its own file: the verdict is only advisory
            row["dlinfer_vs_original"] = "%s (%s)" % (row["status"], row.get("detail", ""))
            row["status"] = "KERAS-ERROR"
            row["detail"] = "%s; dlinfer vs original outputs: %s" % (frec["keras_error"], row["dlinfer_vs_original"])
        if args.per_layer and row["status"] in ("MISMATCH", "ILL-COND", "RUN-ERROR"):
            row["per_layer"] = per_layer(gen, name, form, outdir, args)
        rows.append(row)
    if not args.keep:
        for f in os.listdir(outdir):
            if f.startswith(("model.", "perlayer.")):
                os.remove(os.path.join(outdir, f))
    return rows


def snapshot_library(lib, out):
    """Copy libdlinfer.so once so that a rebuild during a long run cannot mix engine versions."""
    import datetime
    import hashlib
    if not os.path.exists(lib):
        raise SystemExit("dlinfer library not found: %s (build it, or pass --lib)" % lib)
    snap = os.path.join(out, "libdlinfer.snapshot.so")
    shutil.copyfile(lib, snap)
    ENV["DLINFER_LIB"] = snap
    info = {"source": os.path.abspath(lib), "snapshot": snap,
            "sha256": hashlib.sha256(open(snap, "rb").read()).hexdigest(),
            "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(lib), datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        info["git_head"] = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        info["sources_dirty"] = bool(dirty)
    except OSError:
        pass
    return info


def _fmt_s(v):
    return "" if v is None else "%.1f" % v


def print_header():
    print("%-8s %-5s %-20s %4s %11s  %-10s %6s %6s %7s  %s" % (
        "gen", "form", "architecture", "in", "params", "status", "keras", "load", "run", "detail"), flush=True)
    print("(seconds: keras = whole Keras worker - build, predict, save and reload every form; "
          "load / run = dlinfer)", flush=True)


def print_row(r):
    params = "" if r.get("params") is None else "{:,}".format(r["params"])
    print("%-8s %-5s %-20s %4s %11s  %-10s %6s %6s %7s  %s" % (
        r["generation"], r["form"], r["arch"], r.get("input", ""), params, r["status"],
        _fmt_s(r.get("keras_wall_seconds")), _fmt_s(r.get("load_seconds")),
        "" if r.get("run_seconds") is None else "%.3f" % r["run_seconds"], r.get("detail", "")), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated architecture names (e.g. ResNet50,MobileNetV2)")
    ap.add_argument("--generation", choices=GENERATIONS, help="only this Keras generation")
    ap.add_argument("--keep", action="store_true", help="keep the saved model files")
    ap.add_argument("--skip-large", action="store_true", help="leave out the largest variants (%s)" %
                    ", ".join(sorted(LARGE)))
    ap.add_argument("--softmax", action="store_true", help="keep the default softmax head (default: logits)")
    ap.add_argument("--bn-only", action="store_true",
                    help="randomize only BatchNormalization statistics (not Normalization/LayerScale)")
    ap.add_argument("--lib", default=os.environ.get("DLINFER_LIB", DEFAULT_LIB),
                    help="libdlinfer.so to test (copied once at start; default $DLINFER_LIB or .build/release)")
    ap.add_argument("--out", default="/tmp/apps", help="scratch directory (default /tmp/apps)")
    ap.add_argument("--timeout", type=float, default=2400, help="seconds per Keras worker")
    ap.add_argument("--dl-timeout", type=float, default=1200, help="seconds per dlinfer worker")
    ap.add_argument("--list", action="store_true", help="only list what would run")
    # internal
    ap.add_argument("--per-layer", action="store_true",
                    help="for a MISMATCH, rerun with every layer output exposed and name the first deviating layers")
    ap.add_argument("--worker", choices=("list", "keras", "dlinfer", "perlayer-keras", "perlayer-dlinfer"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--perlayer-form", help=argparse.SUPPRESS)
    ap.add_argument("--arch", help=argparse.SUPPRESS)
    ap.add_argument("--outdir", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--ref", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker == "list":
        K, _ = _import_generation(args.generation)
        print("NAMES " + json.dumps(_application_names(K)))
        return
    if args.worker == "keras":
        keras_worker(args)
        return
    if args.worker == "dlinfer":
        dlinfer_worker(args)
        return
    if args.worker == "perlayer-keras":
        perlayer_keras_worker(args)
        return
    if args.worker == "perlayer-dlinfer":
        perlayer_dlinfer_worker(args)
        return

    if os.path.abspath(args.out).startswith(REPO + os.sep):
        raise SystemExit("--out must be outside the repository")
    os.makedirs(args.out, exist_ok=True)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    gens = [args.generation] if args.generation else list(GENERATIONS)
    plan, skipped = [], []
    for gen in gens:
        names = list_architectures(gen, 600)
        if only:
            unknown = [n for n in only if n not in names]
            if unknown and len(gens) == 1:
                print("note: %s does not export %s" % (gen, ", ".join(unknown)), flush=True)
            names = [n for n in names if n in only]
        for n in names:
            if n in LARGE and args.skip_large and not only:
                skipped.append((gen, n))
            else:
                plan.append((gen, n))
    if skipped:
        print("skipped (largest variants, --skip-large): " +
              ", ".join("%s/%s" % s for s in skipped), flush=True)
    if args.list:
        for gen, n in plan:
            print("%s %s input %d range %s" % (gen, n, input_size(n), input_range(n)))
        return
    lib_info = snapshot_library(args.lib, args.out)
    print("dlinfer: %s (sha256 %s, built %s) -> %s" % (lib_info["source"], lib_info["sha256"][:12],
                                                      lib_info["mtime"], lib_info["snapshot"]), flush=True)

    report = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv),
              "tolerance": "max|y-ref| <= %g * max|ref| and argmax agrees" % TOLERANCE,
              "head": "softmax" if args.softmax else "logits (classifier_activation=None)",
              "randomized": "BatchNormalization" if args.bn_only else "BatchNormalization, Normalization, LayerScale",
              "skipped": ["%s/%s" % s for s in skipped], "dlinfer": lib_info, "rows": []}
    report_path = os.path.join(args.out, "report.json")
    t_all = time.time()
    print_header()
    for gen, n in plan:
        for r in check_one(gen, n, args):
            report["rows"].append(r)
            print_row(r)
            if r.get("per_layer"):
                print("%47s %s" % ("", r["per_layer"]), flush=True)
        with open(report_path, "w") as f:
            json.dump(report, f, indent=1)
    counts = {}
    for r in report["rows"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    report["summary"] = counts
    report["seconds"] = round(time.time() - t_all, 1)
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)
    print("summary: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())) +
          "  (%.0f s; report %s)" % (report["seconds"], report_path), flush=True)


if __name__ == "__main__":
    main()
