#!/usr/bin/env python3
"""Reference fixtures for the engine's image pipeline, computed by TensorFlow / Keras.

Writes Tests/Fixtures/images/: a few small synthetic JPEGs, deliberately bad files, one .npy per
case and manifest.json. Each .npy is float32 HWC (no batch dimension) and holds

  tf.io.decode_jpeg(bytes, channels=C, dct_method="INTEGER_FAST")
  -> tf.image.resize(img, (H, W), method="bilinear", antialias=False)   (float32, unrounded)
  -> the preprocessing mode, computed by Keras:
       raw    unchanged (0..255)
       unit   keras.layers.Rescaling(1/255)                          (0..1)
       tf     keras.applications.imagenet_utils.preprocess_input(x, mode="tf")     (-1..1)
       caffe  ... mode="caffe"  (RGB -> BGR, minus ImageNet mean, no scaling)
       torch  ... mode="torch"  (/255, minus mean, divided by std, per channel, RGB order)

Bad files (truncated, random bytes, empty) are listed with "error": true: TensorFlow refuses each.

Run from the repository root, in a venv with `tensorflow-cpu==2.21.0 keras pillow`:
  TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2 python tools/gen_image_fixtures.py
"""

import io
import json
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras.applications import imagenet_utils  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "images")
MAX_JPEG = 5 * 1024
MAX_TOTAL = 300 * 1024

rng = np.random.default_rng(0)


def pattern(h, w, c):
    """Smooth per-channel waves + a diagonal ramp + Gaussian noise, uint8."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        wave = 90 * np.sin(x / (2.0 + k) + k) * np.cos(y / (3.0 + 0.5 * k) - k)
        ramp = 60 * (x / max(w - 1, 1) - y / max(h - 1, 1))
        chans.append(128 + wave + ramp)
    img = np.stack(chans, -1) + rng.normal(0, 20, (h, w, c))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def tf_jpeg(img, quality, **kw):
    return tf.io.encode_jpeg(img, quality=quality, **kw).numpy()


def pil_progressive_jpeg(img, quality):
    bio = io.BytesIO()
    Image.fromarray(img).save(bio, "JPEG", quality=quality, progressive=True, subsampling="4:2:0")
    return bio.getvalue()


def has_marker(data, marker):
    return bytes([0xFF, marker]) in data


def decode_resize(data, channels, h, w):
    img = tf.io.decode_jpeg(data, channels=channels, dct_method="INTEGER_FAST")
    return tf.image.resize(img, (h, w), method="bilinear", antialias=False).numpy()


def apply_mode(x, mode):
    x = np.array(x, dtype=np.float32, copy=True)  # preprocess_input works in place on NumPy input
    if mode == "raw":
        return x
    if mode == "unit":
        return keras.ops.convert_to_numpy(keras.layers.Rescaling(1.0 / 255)(x[None]))[0]
    return imagenet_utils.preprocess_input(x, data_format="channels_last", mode=mode)


def emulate_resize(img, oh, ow):
    """NumPy statement of TF's bilinear kernel (half-pixel centers); checked bit-exact below.

    Per axis (float32): scale = in/out; src = (dst + 0.5) * scale - 0.5; lo = max(floor(src), 0);
    hi = min(ceil(src), in - 1); t = src - floor(src). Value: top = a + (b - a) * tx,
    bottom = c + (d - c) * tx, out = top + (bottom - top) * ty.
    """
    img = img.astype(np.float32)

    def axis(out, inn):
        scale = np.float32(inn) / np.float32(out)
        src = (np.arange(out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
        f = np.floor(src)
        lo = np.maximum(f, 0).astype(np.int64)
        hi = np.minimum(np.ceil(src), inn - 1).astype(np.int64)
        return lo, hi, (src - f).astype(np.float32)

    y0, y1, ty = axis(oh, img.shape[0])
    x0, x1, tx = axis(ow, img.shape[1])
    tx, ty = tx[None, :, None], ty[:, None, None]
    a, b = img[y0][:, x0], img[y0][:, x1]
    c, d = img[y1][:, x0], img[y1][:, x1]
    top = a + (b - a) * tx
    bottom = c + (d - c) * tx
    return top + (bottom - top) * ty


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith((".jpg", ".npy", ".json")):
            os.remove(os.path.join(OUT, f))

    # name -> (bytes, description). Sizes are H x W.
    jpegs = {
        "rgb_13x17_q90.jpg": (tf_jpeg(pattern(13, 17, 3), 90),
                              "RGB 13x17, tf.io.encode_jpeg quality 90, 4:2:0, odd sizes"),
        "rgb_40x31_q75.jpg": (tf_jpeg(pattern(40, 31, 3), 75),
                              "RGB 40x31, tf.io.encode_jpeg quality 75, 4:2:0"),
        "rgb_16x16_444_q95.jpg": (tf_jpeg(pattern(16, 16, 3), 95, chroma_downsampling=False),
                                  "RGB 16x16, tf.io.encode_jpeg quality 95, 4:4:4 (no chroma subsampling)"),
        "gray_9x11.jpg": (tf_jpeg(pattern(9, 11, 1), 90),
                          "grayscale (1 component) 9x11, tf.io.encode_jpeg quality 90"),
        "rgb_24x20_progressive.jpg": (pil_progressive_jpeg(pattern(24, 20, 3), 85),
                                      "RGB 24x20, progressive (SOF2), PIL quality 85, 4:2:0"),
    }
    assert has_marker(jpegs["rgb_24x20_progressive.jpg"][0], 0xC2), "PIL did not write SOF2"
    for name, (data, _) in jpegs.items():
        if name != "rgb_24x20_progressive.jpg":
            assert has_marker(data, 0xC0), f"{name}: expected baseline SOF0"
        assert len(data) <= MAX_JPEG, f"{name}: {len(data)} bytes"
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)

    # (file, channels, (H, W) targets)
    plan = [
        ("rgb_13x17_q90.jpg", 3, [(8, 8), (20, 24), (13, 17), (1, 1)]),
        ("rgb_13x17_q90.jpg", 1, [(13, 17), (8, 8)]),       # colour JPEG decoded as grayscale
        ("rgb_40x31_q75.jpg", 3, [(8, 8), (20, 24), (40, 31), (45, 37), (20, 48)]),
        ("rgb_16x16_444_q95.jpg", 3, [(16, 16), (8, 8)]),
        ("gray_9x11.jpg", 1, [(8, 8), (20, 24), (9, 11)]),
        ("gray_9x11.jpg", 3, [(9, 11)]),                    # grayscale JPEG decoded as RGB
        ("rgb_24x20_progressive.jpg", 3, [(8, 8), (20, 24), (24, 20)]),
    ]
    modes_case = ("rgb_13x17_q90.jpg", 3, (20, 24))
    cases = []

    def add(file, channels, h, w, mode, arr, note=None):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        assert arr.shape == (h, w, channels), (file, arr.shape)
        stem = file[:-4]
        npy = f"{stem}_c{channels}_{h}x{w}_{mode}.npy"
        np.save(os.path.join(OUT, npy), arr)
        case = {"file": file, "channels": channels, "height": h, "width": w,
                "mode": mode, "expected": npy}
        if note:
            case["note"] = note
        cases.append(case)

    for file, channels, sizes in plan:
        data = jpegs[file][0]
        decoded = tf.io.decode_jpeg(data, channels=channels, dct_method="INTEGER_FAST").numpy()
        for h, w in sizes:
            y = decode_resize(data, channels, h, w)
            emu = emulate_resize(decoded, h, w)
            assert np.array_equal(y, emu), f"resize emulation differs: {file} {h}x{w}"
            note = None
            if (h, w) == decoded.shape[:2]:
                note = "same size: equals the decoded pixels exactly"
            elif channels == 1 and file.startswith("rgb"):
                note = "colour JPEG decoded to 1 channel (libjpeg JCS_GRAYSCALE: the Y component)"
            elif channels == 3 and file.startswith("gray"):
                note = "grayscale JPEG decoded to 3 channels (gray replicated)"
            add(file, channels, h, w, "raw", y, note)

    file, channels, (h, w) = modes_case
    base = decode_resize(jpegs[file][0], channels, h, w)
    for mode in ("unit", "tf", "caffe", "torch"):
        add(file, channels, h, w, mode, apply_mode(base, mode))

    # Bad inputs: TensorFlow must refuse each.
    good = jpegs["rgb_40x31_q75.jpg"][0]
    junk = rng.integers(0, 256, 600, dtype=np.uint8).tobytes()
    assert junk[:2] != b"\xff\xd8"
    bad = {
        "bad_truncated.jpg": (good[: len(good) // 2],
                              "first half of rgb_40x31_q75.jpg: libjpeg warns 'Premature end of JPEG file'"),
        "bad_random.jpg": (junk, "600 random bytes (no SOI marker)"),
        "bad_empty.jpg": (b"", "empty file"),
    }
    for name, (data, reason) in bad.items():
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
        try:
            tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_FAST").numpy()
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            pass
        else:
            raise AssertionError(f"TensorFlow decoded {name}")
        cases.append({"file": name, "error": True, "reason": reason})

    manifest = {
        "generator": "tools/gen_image_fixtures.py",
        "generated_with": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "pipeline": ("tf.io.decode_jpeg(channels=C, dct_method='INTEGER_FAST') -> "
                     "tf.image.resize((H, W), method='bilinear', antialias=False) -> mode"),
        "layout": "float32 .npy, shape [H, W, C], no batch dimension",
        "modes": {
            "raw": "unchanged, 0..255",
            "unit": "x / 255 (keras.layers.Rescaling(1/255))",
            "tf": "x / 127.5 - 1",
            "caffe": "RGB -> BGR, then minus [103.939, 116.779, 123.68] (B, G, R)",
            "torch": "x / 255, minus [0.485, 0.456, 0.406], divided by [0.229, 0.224, 0.225] (R, G, B)",
        },
        "tolerance": {"abs": 1e-4, "rel": 1e-4},
        "images": {name: desc for name, (_, desc) in jpegs.items()},
        "cases": cases,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    for name, (data, _) in jpegs.items():
        print(f"{name:28s} {len(data):5d} bytes")
    print(f"{len(cases)} cases ({sum(1 for c in cases if c.get('error'))} bad files), "
          f"{len(os.listdir(OUT))} files, {total} bytes total")
    if total > MAX_TOTAL:
        print("fixtures exceed the size budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
