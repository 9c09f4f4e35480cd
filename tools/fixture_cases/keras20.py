"""Keras 2.0-era HDF5 layouts, produced honestly: build with tf_keras, then rewrite the container
with h5py into the Keras 2.0.8 layout (fixed-length byte-string attributes, class_name "Model",
old list-style Sequential config, batch_input_shape on the first layer, 2.0-era layer configs,
`<layer>/<layer>_1/kernel:0` dataset paths, empty weight_names stored as an empty float64 array,
as h5py did for `attrs[...] = []`). tf_keras must load the rewritten file and reproduce the
outputs; those outputs are the reference."""
import copy
import json

import numpy as np

# keys that tf_keras writes but Keras 2.0.8 did not have (dropped; loaders must default them)
NEW_KEYS = {"groups", "ragged", "synchronized", "keepdims", "seed", "module", "registered_name",
            "build_config", "compile_config", "shared_object_id"}


def _init_2_0(cfg):
    """tf_keras initializer config -> Keras 2.0.8 style."""
    if not isinstance(cfg, dict) or "class_name" not in cfg:
        return cfg
    cn = cfg["class_name"]
    sub = cfg.get("config", {}) or {}
    if cn in ("GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal"):
        scale = 2.0 if cn.startswith("He") else 1.0
        mode = {"Glorot": "fan_avg", "He": "fan_in", "Lecun": "fan_in"}[cn[:-7] if cn.endswith("Uniform") else cn[:-6]]
        dist = "uniform" if cn.endswith("Uniform") else "normal"
        return {"class_name": "VarianceScaling",
                "config": {"scale": scale, "mode": mode, "distribution": dist, "seed": sub.get("seed")}}
    return {"class_name": cn, "config": {k: v for k, v in sub.items() if k not in NEW_KEYS}}


def _layer_cfg_2_0(class_name, cfg, keep_dtype):
    out = {}
    for k, v in cfg.items():
        if k in NEW_KEYS:
            continue
        if k == "dtype" and not keep_dtype:
            continue
        if k == "output_padding" and v is None:
            continue
        if k == "data_format" and class_name == "Flatten":
            continue
        if k == "noise_shape" and v is None:
            continue
        if k.endswith("_initializer"):
            v = _init_2_0(v)
        out[k] = v
    if class_name == "BatchNormalization" and isinstance(out.get("axis"), list):
        assert len(out["axis"]) == 1
        out["axis"] = -1  # all keras2.0 cases normalize the last axis; 2.0.8 stored the int -1
    if class_name == "InputLayer":
        out = {"batch_input_shape": cfg["batch_input_shape"], "dtype": cfg.get("dtype", "float32"),
               "sparse": bool(cfg.get("sparse", False)), "name": cfg["name"]}
    return out


def _strip(o):
    if isinstance(o, dict):
        return {k: _strip(v) for k, v in o.items() if k not in ("module", "registered_name")}
    if isinstance(o, list):
        return [_strip(v) for v in o]
    return o


def config_2_0(model):
    """Return the Keras 2.0.8 style {"class_name", "config"} for a tf_keras model."""
    cfg = _strip(json.loads(model.to_json()))
    cn = cfg["class_name"]
    c = cfg["config"]
    if cn == "Sequential":
        layers = c["layers"]
        assert layers[0]["class_name"] == "InputLayer"
        inp = layers[0]["config"]
        out = []
        for j, l in enumerate(layers[1:]):
            lc = _layer_cfg_2_0(l["class_name"], l["config"], keep_dtype=False)
            if j == 0:
                lc["batch_input_shape"] = inp["batch_input_shape"]
                lc["dtype"] = inp.get("dtype", "float32")
            out.append({"class_name": l["class_name"], "config": lc})
        return {"class_name": "Sequential", "config": out}
    assert cn in ("Functional", "Model"), cn
    layers = []
    for l in c["layers"]:
        layers.append({
            "name": l["name"],
            "class_name": l["class_name"],
            "config": _layer_cfg_2_0(l["class_name"], l["config"], keep_dtype=l["class_name"] == "InputLayer"),
            "inbound_nodes": l["inbound_nodes"],
        })
    return {"class_name": "Model",
            "config": {"name": c["name"], "layers": layers,
                       "input_layers": c["input_layers"], "output_layers": c["output_layers"]}}


def write_h5_2_0(model, path, suffix="_1"):
    """Write `model` (tf_keras) into `path` in the Keras 2.0.8 HDF5 layout."""
    import h5py
    cfg = config_2_0(model)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.0.8")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(cfg).encode("utf8"))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([l.name.encode("utf8") for l in model.layers])
        g.attrs["backend"] = np.bytes_(b"tensorflow")
        g.attrs["keras_version"] = np.bytes_(b"2.0.8")
        for l in model.layers:
            lg = g.create_group(l.name)
            names = []
            for w in l.weights:
                short = w.name.split("/")[-1]          # e.g. "kernel:0"
                names.append("%s%s/%s" % (l.name, suffix, short))
            if names:
                lg.attrs["weight_names"] = np.array([n.encode("utf8") for n in names])
            else:
                lg.attrs["weight_names"] = np.array([])   # what h5py stored for `= []` (float64, shape (0,))
            for n, w in zip(names, l.get_weights()):
                lg.create_dataset(n, data=np.asarray(w, dtype=np.float32))
    return cfg


# ----------------------------------------------------------------------------- cases

def seq_cnn(K):
    L = K.layers
    return K.Sequential([
        L.Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1), name="conv2d_1"),
        L.MaxPooling2D(2, name="max_pooling2d_1"),
        L.Conv2D(6, 3, name="conv2d_2"),
        L.Activation("relu", name="activation_1"),
        L.Flatten(name="flatten_1"),
        L.Dense(8, activation="relu", name="dense_1"),
        L.Dropout(0.5, name="dropout_1"),
        L.Dense(3, activation="softmax", name="dense_2"),
    ], name="sequential_1")


def branch_concat_bn(K):
    L = K.layers
    i = K.Input((8, 8, 3), name="input_1")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2d_1")(i)
    a = L.Conv2D(3, 3, padding="same", name="conv2d_2")(x)
    b = L.Conv2D(5, 1, name="conv2d_3")(x)
    b = L.BatchNormalization(name="batch_normalization_1")(b)
    y = L.Concatenate(name="concatenate_1")([a, b])
    y = L.BatchNormalization(name="batch_normalization_2")(y)
    y = L.Activation("relu", name="activation_1")(y)
    y = L.GlobalAveragePooling2D(name="global_average_pooling2d_1")(y)
    return K.Model(i, L.Dense(4, activation="softmax", name="dense_1")(y), name="model_1")


def convt_sepconv(K):
    L = K.layers
    i = K.Input((6, 6, 3), name="input_1")
    x = L.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", activation="relu",
                          name="separable_conv2d_1")(i)
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", name="conv2d_transpose_1")(x)
    x = L.Conv2DTranspose(2, 3, strides=1, padding="valid", name="conv2d_transpose_2")(x)
    return K.Model(i, L.Conv2D(2, 1, name="conv2d_1")(x), name="model_1")


def mlp_bn_plain(K):
    L = K.layers
    i = K.Input((6,), name="input_1")
    x = L.Dense(8, activation="relu", name="dense_1")(i)
    x = L.BatchNormalization(name="batch_normalization_1")(x)
    return K.Model(i, L.Dense(3, name="dense_2")(x), name="model_1")


K20_CASES = [
    # (name, builder, weight-group suffix, note)
    ("seq_cnn", seq_cnn, "_1",
     "Sequential CNN, old Sequential config (a plain list of layer configs, batch_input_shape on the first layer, no InputLayer); Conv2D/MaxPooling2D/Activation/Flatten/Dense/Dropout"),
    ("branch_concat_bn", branch_concat_bn, "_1",
     "functional class_name 'Model' with a branch, BatchNormalization (axis -1) on one branch, Concatenate, BN, GlobalAveragePooling2D, Dense softmax"),
    ("convt_sepconv", convt_sepconv, "_1",
     "functional 'Model': SeparableConv2D(depth_multiplier=2, same, relu) -> Conv2DTranspose(strides 2, same) -> Conv2DTranspose(valid) -> Conv2D 1x1"),
    ("mlp_bn_plain", mlp_bn_plain, "",
     "functional 'Model' Dense/BatchNormalization/Dense with plain 2.0.8 dataset paths `<layer>/<layer>/kernel:0` (no _1 suffix)"),
]
