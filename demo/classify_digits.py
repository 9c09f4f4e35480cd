#!/usr/bin/env python3
"""dlinfer demo: a Keras CNN (trained on scikit-learn's digits by tools/train_digits_demo.py)
classifies held-out 8x8 JPEG digits through the Python binding of libdlinfer.so.

Each image goes through the same pipeline the model was trained with: JPEG decode ->
bilinear resize to 32x32 -> x / 255."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bindings" / "python"))

import numpy as np  # noqa: E402

import dlinfer  # noqa: E402

MODEL = HERE / "digits_cnn.h5"
IMAGES = HERE / "images"


def classify(model_path=MODEL, images_dir=IMAGES):
    """Returns [(file name, true label, probabilities)] for every image, in file-name order."""
    model = dlinfer.Model(model_path)
    _, h, w, c = model.inputs[0].shape
    files = sorted(images_dir.glob("*.jpg"))
    batch = np.stack([dlinfer.load_image(f, h, w, channels=c, mode="unit") for f in files])
    probs = model.run([batch])[0]
    return [(f.name, int(f.stem.split("_")[1]), p) for f, p in zip(files, probs)]


def main():
    results = classify()
    correct = 0
    print("dlinfer %s — digits CNN on %d held-out JPEGs" % (dlinfer.version(), len(results)))
    for name, label, p in results:
        top = np.argsort(-p)[:3]
        correct += int(top[0] == label)
        mark = "ok " if top[0] == label else "BAD"
        print("%s %-9s true %d  top-3: %s" % (mark, name, label, "  ".join("%d (%.3f)" % (k, p[k]) for k in top)))
    print("accuracy: %d/%d = %.1f%%" % (correct, len(results), 100.0 * correct / len(results)))


if __name__ == "__main__":
    main()
