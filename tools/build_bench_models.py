#!/usr/bin/env python3
"""Build the benchmark models (Keras 3, random weights, fixed seeds) as .h5 files.

Run with a Python that has tensorflow-cpu==2.21.0 and keras 3 (not needed by the tests):

    python tools/build_bench_models.py [OUT_DIR] [--force]     # OUT_DIR defaults to /tmp/dlinfer-bench

Writes small_cnn.h5 (the Keras "simple MNIST convnet", 28x28x1, ~2.44 M MACs), mobilenetv2.h5 and
resnet50.h5 (keras.applications, 224x224x3, weights=None, default 1000-class softmax head).
BatchNormalization moving statistics are seeded random (mean ~ U(-0.2, 0.2), variance ~ U(0.5, 1.5),
as in tools/check_applications.py) so that BN is not an identity. Existing files are kept unless --force.
"""
import argparse
import logging
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras

logging.getLogger("absl").setLevel(logging.ERROR)  # the "HDF5 is legacy" warning on every save
SEED = 1234


def small_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ], name="small_cnn")


MODELS = {
    "small_cnn": small_cnn,
    "mobilenetv2": lambda: keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, weights=None),
    "resnet50": lambda: keras.applications.ResNet50(input_shape=(224, 224, 3), weights=None),
}


def macs(model):
    """Multiply-accumulates of one sample through Conv2D, DepthwiseConv2D and Dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            out = int(np.prod(layer.output.shape[1:]))
            k = layer.kernel.shape  # (kh, kw, in/groups, out) / (kh, kw, in, mult) / (in, units)
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                total += out * k[0] * k[1]
            else:
                total += out * int(np.prod(k[:-1]))
    return total


def randomize_bn(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.uniform(-0.2, 0.2, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n).astype("float32"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", nargs="?", default="/tmp/dlinfer-bench")
    ap.add_argument("--force", action="store_true", help="rebuild files that already exist")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for name, build in MODELS.items():
        path = os.path.join(args.out_dir, name + ".h5")
        if os.path.exists(path) and not args.force:
            print("%-12s exists, skipped: %s" % (name, path))
            continue
        keras.utils.set_random_seed(SEED)
        model = build()
        randomize_bn(model, np.random.default_rng(SEED))
        model.save(path)
        print("%-12s %6.3f M params %9.3f M MACs -> %s" % (name, model.count_params() / 1e6, macs(model) / 1e6, path))
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
