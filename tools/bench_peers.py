#!/usr/bin/env python3
"""Time dlinfer against TensorFlow, ONNX Runtime and LiteRT on one Keras model file.

Run with a Python that has tensorflow-cpu, keras, tf2onnx, onnxruntime and ai-edge-litert
(see tools/build_bench_models.py for models):

    python tools/bench_peers.py MODEL.h5 [--threads N] [--runs R] [--warmup W] [--block K] [--settle-ms S] [--batch B] [--json]

The model is loaded with Keras 3 (tf_keras as fallback) and wrapped in a tf.function with static
input shapes (batch B). That function is the TensorFlow engine and the source of the ONNX (tf2onnx)
and TFLite (float32, no optimizations) conversions, cached in $TMPDIR/dlinfer-bench-cache keyed by the
file's SHA-256, the batch and the TensorFlow version. All engines get the same seeded random inputs (float: U(-1, 1); int:
[0, smallest Embedding input_dim or 100)) and run interleaved: each round runs every engine once, the
order rotated by one each round. A round gives each engine a block of --block consecutive calls
(default 5), the way a serving loop calls one engine, after --settle-ms (default 30) of idle time
and one untimed call: other engines' worker threads (ONNX Runtime's and TensorFlow's spin after a
run) have gone quiet and the engine's own caches and threads are warm when its timed calls start.
--block 1 --settle-ms 0 times one call per engine per round, back to back. Table: median and p90 latency, dlinfer's median / the engine's
median (> 1: dlinfer slower), max |y - y_tf| over all outputs. A peer that cannot be imported or
converted prints "skipped: <reason>".

Threads: TensorFlow intra-op N / inter-op 1 (set before anything else runs), ONNX Runtime intra-op
N / inter-op 1 / sequential, LiteRT num_threads=N. dlinfer gets threads=N once its binding takes
that keyword; until then it runs one thread per session (it pins OpenBLAS to one thread) and the
header notes it, with the OpenBLAS kernel in use (OPENBLAS_CORETYPE decides it on CPUs OpenBLAS
0.3.21 does not know). The script sets TF_ENABLE_ONEDNN_OPTS=0 and TF_CPP_MIN_LOG_LEVEL=2 unless
already set, and no other environment variable.
"""
import argparse
import ctypes
import hashlib
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="Keras .h5 or .keras file")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50, help="timed rounds")
    ap.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    ap.add_argument("--block", type=int, default=5, help="timed calls per engine per round")
    ap.add_argument("--settle-ms", type=float, default=30.0, help="idle time before each engine's block")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="input seed")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return ap.parse_args()


def short(e):
    lines = [l for l in str(e).strip().splitlines() if l.strip()]
    return "%s: %s" % (type(e).__name__, lines[-1][:200] if lines else "")


def main():
    args = parse_args()
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    notes, skipped, engines, versions = [], {}, {}, {"tensorflow": tf.__version__}

    try:
        import keras
        model = keras.models.load_model(args.model, compile=False)
    except Exception as e:
        import tf_keras as keras
        notes.append("keras 3 could not load the file (%s); loaded with tf_keras" % short(e))
        model = keras.models.load_model(args.model, compile=False)

    rng = np.random.default_rng(args.seed)
    int_high = min([l.input_dim for l in model.layers if hasattr(l, "input_dim")] or [100])
    xs = []
    for t in model.inputs:
        shape = (args.batch,) + tuple(t.shape[1:])
        if any(d is None for d in shape):
            sys.exit("input %s has a dynamic dimension %s: not supported" % (t.name, shape))
        if np.dtype(t.dtype).kind in "iu":
            xs.append(rng.integers(0, int_high, shape).astype(np.int32))
        else:
            xs.append(rng.uniform(-1, 1, shape).astype(np.float32))

    specs = [tf.TensorSpec(x.shape, x.dtype, name="in%d" % i) for i, x in enumerate(xs)]

    @tf.function(input_signature=specs)
    def fn(*inputs):
        return tf.nest.flatten(model(list(inputs) if len(inputs) > 1 else inputs[0], training=False))

    tf_xs = [tf.constant(x) for x in xs]
    engines["tensorflow"] = lambda: [y.numpy() for y in fn(*tf_xs)]

    digest = hashlib.sha256(Path(args.model).read_bytes()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "dlinfer-bench-cache"
    cache.mkdir(exist_ok=True)
    stem = "%s-%s-b%d-tf%s" % (Path(args.model).stem, digest, args.batch, tf.__version__)

    def converted(ext, convert):
        path = cache / (stem + ext)
        if path.exists():
            notes.append("%s: cached %s" % (ext[1:], path))
        else:
            t0 = time.perf_counter()
            tmp = cache / (stem + ext + ".tmp")
            tmp.write_bytes(convert())
            tmp.replace(path)
            notes.append("%s: converted in %.1f s -> %s" % (ext[1:], time.perf_counter() - t0, path))
        return path

    try:
        import onnxruntime as ort
        versions["onnxruntime"] = ort.__version__

        def to_onnx():
            import tf2onnx
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=specs)
            return proto.SerializeToString()

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(str(converted(".onnx", to_onnx)), opts, providers=["CPUExecutionProvider"])
        feeds = {i.name: x for i, x in zip(sess.get_inputs(), xs)}
        engines["onnxruntime"] = lambda: sess.run(None, feeds)
    except Exception as e:
        skipped["onnxruntime"] = short(e)

    try:
        from ai_edge_litert import interpreter as litert
        import ai_edge_litert
        versions["litert"] = getattr(ai_edge_litert, "__version__", "?")

        def to_tflite():
            # Freeze first: converting the function as is keeps Keras 3 weights as resource variables
            # that nothing initializes in the interpreter (READ_VARIABLE fails, XNNPACK returns NaN).
            from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
            frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
            return tf.lite.TFLiteConverter.from_concrete_functions([frozen], model).convert()

        interp = litert.Interpreter(model_path=str(converted(".tflite", to_tflite)), num_threads=args.threads)
        runner = interp.get_signature_runner()
        in_names = sorted(runner.get_input_details(), key=lambda n: int(n.rsplit("in", 1)[-1]))
        out_names = sorted(runner.get_output_details(), key=lambda n: int(n.rsplit("_", 1)[-1]))
        lite_feeds = dict(zip(in_names, xs))

        def run_litert():
            out = runner(**lite_feeds)
            return [out[n] for n in out_names]
        engines["litert"] = run_litert
    except Exception as e:
        skipped["litert"] = short(e)

    try:
        sys.path.insert(0, str(REPO / "bindings" / "python"))
        import dlinfer
        versions["dlinfer"] = dlinfer.version()
        if "threads" in inspect.signature(dlinfer.Model).parameters:
            dl = dlinfer.Model(args.model, threads=args.threads)
            notes.append("dlinfer: threads=%d" % args.threads)
        else:
            dl = dlinfer.Model(args.model)
            notes.append("dlinfer: one thread per session (no threads= keyword yet); %s" % openblas_threads())
        engines["dlinfer"] = lambda: dl.run(xs)
    except Exception as e:
        skipped["dlinfer"] = short(e)

    ref = engines["tensorflow"]()
    diffs = {}
    for name, run in list(engines.items()):
        try:
            ys = run()
            if [y.shape for y in ys] != [r.shape for r in ref]:
                raise ValueError("output shapes %s != TensorFlow's %s" % ([y.shape for y in ys], [r.shape for r in ref]))
            diffs[name] = max(float(np.max(np.abs(y - r))) for y, r in zip(ys, ref))
        except Exception as e:
            skipped[name] = "run failed: " + short(e)
            del engines[name]

    names = list(engines)
    times = {n: [] for n in names}
    for n in names:
        for _ in range(args.warmup):
            engines[n]()
    block = max(1, args.block)
    rounds = -(-args.runs // block)
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            if args.settle_ms > 0:
                time.sleep(args.settle_ms / 1e3)
            if block > 1 or args.settle_ms > 0:
                engines[n]()
            for _ in range(min(block, args.runs - r * block)):
                t0 = time.perf_counter()
                engines[n]()
                times[n].append((time.perf_counter() - t0) * 1e3)

    rows = {n: {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)),
                "max_abs_diff_vs_tf": diffs[n], "version": versions.get(n)} for n, t in times.items()}
    if "dlinfer" in rows:
        for row in rows.values():
            row["dlinfer_over_engine"] = rows["dlinfer"]["median_ms"] / row["median_ms"]
    result = {"model": args.model, "batch": args.batch, "threads": args.threads, "runs": args.runs,
              "warmup": args.warmup, "block": block, "settle_ms": args.settle_ms, "max_abs_tf_output": max(float(np.max(np.abs(r))) for r in ref),
              "notes": notes, "engines": rows, "skipped": skipped}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    print("%s  batch %d  threads %d  runs %d  warmup %d  block %d  settle %g ms  max|y_tf| %.4g" % (
        args.model, args.batch, args.threads, args.runs, args.warmup, block, args.settle_ms,
        result["max_abs_tf_output"]))
    for note in notes:
        print("  " + note)
    print("%-12s %-10s %10s %10s %15s %14s" % ("engine", "version", "median ms", "p90 ms", "dlinfer/engine", "max|y - y_tf|"))
    for n, row in rows.items():
        ratio = "%.2f" % row["dlinfer_over_engine"] if "dlinfer_over_engine" in row else "-"
        print("%-12s %-10s %10.3f %10.3f %15s %14.3g" % (n, row["version"], row["median_ms"], row["p90_ms"], ratio,
                                                         row["max_abs_diff_vs_tf"]))
    for n, reason in skipped.items():
        print("%-12s skipped: %s" % (n, reason))
    return 0


def openblas_threads():
    """OpenBLAS threads of the libopenblas.so.0 that libdlinfer loaded (dlopen returns the loaded copy)."""
    try:
        blas = ctypes.CDLL("libopenblas.so.0")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return "OpenBLAS %s kernels, %d thread(s)" % (blas.openblas_get_corename().decode(), blas.openblas_get_num_threads())
    except (OSError, AttributeError):
        return "OpenBLAS thread count unknown"


if __name__ == "__main__":
    sys.exit(main())
