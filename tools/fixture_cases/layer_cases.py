"""Layer-level fixture cases. Each build(ctx) gets ctx.K = keras (Keras 3) or tf_keras and
returns a tiny model; the same definition serves both generations unless `gens` says otherwise."""
from .common import Case

KERAS3_ACTIVATIONS = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
    "tanh_shrink", "threshold",
]
TF_KERAS_ACTIVATIONS = [
    "elu", "exponential", "gelu", "hard_sigmoid", "leaky_relu", "linear", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "swish", "tanh",
]
ACTIVATION_NOTES = {
    "hard_sigmoid": {"keras3": "Keras 3 hard_sigmoid = relu6(x+3)/6",
                     "tf_keras": "Keras 2 hard_sigmoid = clip(0.2*x+0.5, 0, 1)"},
    "gelu": {"keras3": "Keras 3 activations.gelu default approximate=False (erf form)",
             "tf_keras": "tf_keras activations.gelu default approximate=False (erf form)"},
    "leaky_relu": {"keras3": "activations.leaky_relu default negative_slope=0.2",
                   "tf_keras": "activations.leaky_relu default alpha=0.2"},
    "glu": {"keras3": "glu splits the last axis in halves: a * sigmoid(b); 6 -> 3 channels"},
    "softmax": {"keras3": "over last axis", "tf_keras": "over last axis"},
    "log_softmax": {"keras3": "over last axis", "tf_keras": "over last axis"},
}

CASES = []


def case(name, **kw):
    def deco(fn):
        CASES.append(Case(name, fn, **kw))
        return fn
    return deco


def _model(K, inputs, outputs):
    return K.Model(inputs, outputs)


# ----------------------------------------------------------------------------- Dense

@case("dense_bias_act", note="Dense(5, activation='tanh') on rank-2 input (6,)")
def _(c):
    i = c.K.Input((6,))
    return _model(c.K, i, c.L.Dense(5, activation="tanh")(i))


@case("dense_nobias", note="Dense(4, use_bias=False), linear, rank-2 input (7,)")
def _(c):
    i = c.K.Input((7,))
    return _model(c.K, i, c.L.Dense(4, use_bias=False)(i))


@case("dense_rank3", note="Dense(5, activation='relu') applied to rank-3 input (3, 6): acts on last axis")
def _(c):
    i = c.K.Input((3, 6))
    return _model(c.K, i, c.L.Dense(5, activation="relu")(i))


@case("dense_rank4", note="Dense(6) on rank-4 input (3, 4, 5): acts on the last axis, output (3, 4, 6)")
def _(c):
    i = c.K.Input((3, 4, 5))
    return _model(c.K, i, c.L.Dense(6)(i))


# ----------------------------------------------------------------------------- Conv1D

@case("conv1d_valid", note="Conv1D(5, 3) padding=valid strides=1, input (10, 4)")
def _(c):
    i = c.K.Input((10, 4))
    return _model(c.K, i, c.L.Conv1D(5, 3)(i))


@case("conv1d_same_s2", note="Conv1D(5, 3, strides=2, padding=same) on length 10: uneven pad (0 left, 1 right); activation relu")
def _(c):
    i = c.K.Input((10, 4))
    return _model(c.K, i, c.L.Conv1D(5, 3, strides=2, padding="same", activation="relu")(i))


@case("conv1d_causal_dil2", note="Conv1D(5, 3, padding=causal, dilation_rate=2), input (10, 4)")
def _(c):
    i = c.K.Input((10, 4))
    return _model(c.K, i, c.L.Conv1D(5, 3, padding="causal", dilation_rate=2)(i))


@case("conv1d_same_dil2_k4", note="Conv1D(3, 4, padding=same, dilation_rate=2): even kernel, same padding, dilation 2, input (11, 4)")
def _(c):
    i = c.K.Input((11, 4))
    return _model(c.K, i, c.L.Conv1D(3, 4, padding="same", dilation_rate=2)(i))


@case("conv1d_groups2", note="Conv1D(6, 3, groups=2, padding=same), input (9, 4) (reference computed by TensorFlow on CPU, which supports grouped conv in TF 2.21; cross-checked against Keras 3 JAX)")
def _(c):
    i = c.K.Input((9, 4))
    return _model(c.K, i, c.L.Conv1D(6, 3, groups=2, padding="same")(i))


# ----------------------------------------------------------------------------- Conv2D

@case("conv2d_valid", note="Conv2D(5, 3) padding=valid, input (8, 8, 4)")
def _(c):
    i = c.K.Input((8, 8, 4))
    return _model(c.K, i, c.L.Conv2D(5, 3)(i))


@case("conv2d_same_s2_even", note="Conv2D(5, 3, strides=2, padding=same) on 8x8: uneven same pad (0 top/left, 1 bottom/right)")
def _(c):
    i = c.K.Input((8, 8, 4))
    return _model(c.K, i, c.L.Conv2D(5, 3, strides=2, padding="same")(i))


@case("conv2d_same_s2_odd_rect", note="Conv2D(4, (3, 2), strides=(2, 1), padding=same) on 9x7: non-square kernel/strides, activation relu")
def _(c):
    i = c.K.Input((9, 7, 3))
    return _model(c.K, i, c.L.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu")(i))


@case("conv2d_valid_s2", note="Conv2D(4, 3, strides=2, padding=valid) on 9x9")
def _(c):
    i = c.K.Input((9, 9, 3))
    return _model(c.K, i, c.L.Conv2D(4, 3, strides=2)(i))


@case("conv2d_dil2", note="Conv2D(5, 3, dilation_rate=2, padding=same) and a second Conv2D(3, 3, dilation_rate=(2, 1), padding=valid)")
def _(c):
    i = c.K.Input((9, 9, 4))
    x = c.L.Conv2D(5, 3, dilation_rate=2, padding="same")(i)
    return _model(c.K, i, c.L.Conv2D(3, 3, dilation_rate=(2, 1))(x))


@case("conv2d_winograd2x2", gens=("keras3",), k3_forms=("h5",),
      note="relu(Conv2D(88, 3, padding=same)(x) + x) on 13x11x88: dlinfer runs it through Winograd F(2x2, 3x3) "
           "(few 4x4 output tiles, over 1 MB of F(4x4) weights), edge tiles cut by the odd sizes, the add fused")
def _(c):
    i = c.K.Input((13, 11, 88))
    y = c.L.Conv2D(88, 3, padding="same")(i)
    return _model(c.K, i, c.L.Activation("relu")(c.L.Add()([y, i])))


@case("conv2d_shortcut_fused", gens=("keras3",), k3_forms=("h5",),
      note="two ResNet-style blocks on 9x9x16 whose 1x1 projection shortcut (BatchNorm folded) is summed into the "
           "block's last 1x1 conv: stride 1 with 16 + 16 channels in, then stride 2 (9x9 -> 5x5) with 48 + 32 "
           "channels in (taps of 16), its shortcut built first (as ResNet does) and added first; then an identity "
           "block whose last 1x1 (400 -> 40, K in blocks) writes over its residual")
def _(c):
    L = c.L
    i = c.K.Input((9, 9, 16))
    a = L.Conv2D(16, 1, activation="relu")(i)
    a = L.Conv2D(16, 3, padding="same", activation="relu")(a)
    main = L.BatchNormalization()(L.Conv2D(32, 1)(a))
    short = L.BatchNormalization()(L.Conv2D(32, 1)(i))
    x = L.Activation("relu")(L.Add()([main, short]))
    short = L.Conv2D(40, 1, strides=2)(x)
    b = L.Conv2D(48, 1, strides=2, activation="relu")(x)
    main = L.Conv2D(40, 1)(b)
    x = L.Activation("relu")(L.Add()([short, main]))
    h = L.Conv2D(400, 1, activation="relu")(x)
    return _model(c.K, i, L.Activation("relu")(L.Add()([L.Conv2D(40, 1)(h), x])))


@case("mbconv_whole_image", gens=("keras3",), k3_forms=("h5",),
      note="x + Conv2D(32, 1)(DepthwiseConv2D(3, same, relu6)(Conv2D(192, 1, relu6)(x))) on 7x7x32: one depthwise "
           "chain (1.4 MFLOP, enough to be split); at 2 and 3 threads dlinfer runs it in whole-image mode, its output "
           "pixels split mid-row")
def _(c):
    i = c.K.Input((7, 7, 32))
    e = c.L.Conv2D(192, 1, activation="relu6")(i)
    d = c.L.DepthwiseConv2D(3, padding="same", activation="relu6")(e)
    return _model(c.K, i, c.L.Add()([c.L.Conv2D(32, 1)(d), i]))


@case("conv2d_groups2", note="Conv2D(6, 3, groups=2, padding=valid), input (8, 8, 4) (reference computed by TensorFlow on CPU, which supports grouped conv in TF 2.21; cross-checked against Keras 3 JAX)")
def _(c):
    i = c.K.Input((8, 8, 4))
    return _model(c.K, i, c.L.Conv2D(6, 3, groups=2)(i))


@case("conv2d_nobias_relu", note="Conv2D(5, 3, use_bias=False, padding=same, activation=relu)")
def _(c):
    i = c.K.Input((7, 7, 3))
    return _model(c.K, i, c.L.Conv2D(5, 3, use_bias=False, padding="same", activation="relu")(i))


# ----------------------------------------------------------------------------- Depthwise / Separable

@case("dwconv_dm2_same", note="DepthwiseConv2D(3, depth_multiplier=2, padding=same), 4 -> 8 channels")
def _(c):
    i = c.K.Input((8, 8, 4))
    return _model(c.K, i, c.L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(i))


@case("dwconv_s2_valid", note="DepthwiseConv2D(3, strides=2, padding=valid) on 9x9, activation relu6")
def _(c):
    i = c.K.Input((9, 9, 4))
    return _model(c.K, i, c.L.DepthwiseConv2D(3, strides=2, activation="relu6")(i))


@case("dwconv_s2_same_nobias", note="DepthwiseConv2D(3, strides=2, padding=same, use_bias=False) on 8x8 (uneven pad)")
def _(c):
    i = c.K.Input((8, 8, 3))
    return _model(c.K, i, c.L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(i))


@case("sepconv_dm2_same", note="SeparableConv2D(5, 3, depth_multiplier=2, padding=same)")
def _(c):
    i = c.K.Input((8, 8, 3))
    return _model(c.K, i, c.L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same")(i))


@case("sepconv_s2_valid_nobias", note="SeparableConv2D(6, 3, strides=2, padding=valid, use_bias=False, activation=relu) on 9x9")
def _(c):
    i = c.K.Input((9, 9, 4))
    return _model(c.K, i, c.L.SeparableConv2D(6, 3, strides=2, use_bias=False, activation="relu")(i))


@case("dwconv1d_dm2_same_s2", note="DepthwiseConv1D(3, depth_multiplier=2, strides=2, padding=same) on (10, 4): 4 -> 8 channels, uneven same pad (0 left, 1 right), length 10 -> 5")
def _(c):
    i = c.K.Input((10, 4))
    return _model(c.K, i, c.L.DepthwiseConv1D(3, depth_multiplier=2, strides=2, padding="same")(i))


@case("dwconv1d_valid_dil2", note="DepthwiseConv1D(3, dilation_rate=2, padding=valid, activation=relu) on (11, 4): length 11 -> 7 (Keras rejects strides > 1 together with dilation > 1)")
def _(c):
    i = c.K.Input((11, 4))
    return _model(c.K, i, c.L.DepthwiseConv1D(3, dilation_rate=2, padding="valid", activation="relu")(i))


@case("sepconv1d_dm2_same", note="SeparableConv1D(5, 3, depth_multiplier=2, padding=same, strides=1) on (9, 3)")
def _(c):
    i = c.K.Input((9, 3))
    return _model(c.K, i, c.L.SeparableConv1D(5, 3, depth_multiplier=2, padding="same")(i))


@case("sepconv1d_s2_valid_nobias", note="SeparableConv1D(6, 3, strides=2, padding=valid, use_bias=False) on (11, 4): length 11 -> 5")
def _(c):
    i = c.K.Input((11, 4))
    return _model(c.K, i, c.L.SeparableConv1D(6, 3, strides=2, padding="valid", use_bias=False)(i))


# ----------------------------------------------------------------------------- Transposed conv

@case("convt_s2_valid", note="Conv2DTranspose(3, 3, strides=2, padding=valid): 5x5 -> 11x11")
def _(c):
    i = c.K.Input((5, 5, 4))
    return _model(c.K, i, c.L.Conv2DTranspose(3, 3, strides=2)(i))


@case("convt_s2_same_k4", note="Conv2DTranspose(3, 4, strides=2, padding=same): 5x5 -> 10x10, even kernel")
def _(c):
    i = c.K.Input((5, 5, 4))
    return _model(c.K, i, c.L.Conv2DTranspose(3, 4, strides=2, padding="same")(i))


@case("convt_s2_same_k3", note="Conv2DTranspose(3, 3, strides=2, padding=same): 5x6 -> 10x12")
def _(c):
    i = c.K.Input((5, 6, 4))
    return _model(c.K, i, c.L.Conv2DTranspose(3, 3, strides=2, padding="same")(i))


@case("convt_outpad_valid", note="Conv2DTranspose(3, 3, strides=2, padding=valid, output_padding=1): 5x5 -> 12x12")
def _(c):
    i = c.K.Input((5, 5, 4))
    return _model(c.K, i, c.L.Conv2DTranspose(3, 3, strides=2, output_padding=1)(i))


@case("convt_outpad_same", note="Conv2DTranspose(2, 3, strides=(2, 3), padding=same, output_padding=(1, 2)): 4x4 -> 9x14")
def _(c):
    i = c.K.Input((4, 4, 3))
    return _model(c.K, i, c.L.Conv2DTranspose(2, 3, strides=(2, 3), padding="same", output_padding=(1, 2))(i))


@case("convt_dil2_same", k3_backend="jax",
      note="Conv2DTranspose(3, 3, dilation_rate=2, padding=same, strides=1) (strides>1 with dilation>1 is rejected by Keras)")
def _(c):
    i = c.K.Input((6, 6, 4))
    return _model(c.K, i, c.L.Conv2DTranspose(3, 3, dilation_rate=2, padding="same")(i))


@case("conv1dt_s2_same", note="Conv1DTranspose(3, 3, strides=2, padding=same): length 6 -> 12")
def _(c):
    i = c.K.Input((6, 4))
    return _model(c.K, i, c.L.Conv1DTranspose(3, 3, strides=2, padding="same")(i))


@case("convt_s3_k2_valid_sigmoid",
      note="Conv2DTranspose(10, 2, strides=3, padding=valid, activation=sigmoid): 4x5 -> 12x15; stride > kernel, "
           "so every third output row and column gets no tap (sigmoid(bias) only)")
def _(c):
    i = c.K.Input((4, 5, 6))
    return _model(c.K, i, c.L.Conv2DTranspose(10, 2, strides=3, activation="sigmoid")(i))


@case("convt_s3_k5_same_outpad_nobias_relu",
      note="Conv2DTranspose(12, 5, strides=3, padding=same, output_padding=(2, 1), use_bias=False, activation=relu): "
           "4x5 -> 12x14")
def _(c):
    i = c.K.Input((4, 5, 7))
    return _model(c.K, i, c.L.Conv2DTranspose(12, 5, strides=3, padding="same", output_padding=(2, 1), use_bias=False,
                                               activation="relu")(i))


@case("convt_s2_k4_same_relu6_17",
      note="Conv2DTranspose(17, 4, strides=2, padding=same, activation=relu6) with 16 input channels: 5x6 -> 10x12")
def _(c):
    i = c.K.Input((5, 6, 16))
    return _model(c.K, i, c.L.Conv2DTranspose(17, 4, strides=2, padding="same", activation="relu6")(i))


@case("convt_s2x3_k3x2_valid_outpad_tanh",
      note="Conv2DTranspose(9, (3, 2), strides=(2, 3), padding=valid, output_padding=(1, 2), activation=tanh): "
           "4x4 -> 10x13 (the last column gets no tap)")
def _(c):
    i = c.K.Input((4, 4, 5))
    return _model(c.K, i, c.L.Conv2DTranspose(9, (3, 2), strides=(2, 3), output_padding=(1, 2), activation="tanh")(i))


@case("conv1dt_s3_k4_valid_outpad_tanh",
      note="Conv1DTranspose(10, 4, strides=3, padding=valid, output_padding=2, activation=tanh): length 7 -> 24")
def _(c):
    i = c.K.Input((7, 5))
    return _model(c.K, i, c.L.Conv1DTranspose(10, 4, strides=3, output_padding=2, activation="tanh")(i))


@case("conv1dt_s1_k5_same_1ch", note="Conv1DTranspose(1, 5, strides=1, padding=same, use_bias=False): length 9 -> 9, one filter")
def _(c):
    i = c.K.Input((9, 6))
    return _model(c.K, i, c.L.Conv1DTranspose(1, 5, padding="same", use_bias=False)(i))


@case("conv1dt_dil2_valid", k3_backend="jax", gens=("keras3",),
      note="Conv1DTranspose(9, 3, dilation_rate=2, padding=valid, strides=1): length 8 -> 12 (Keras 3 only: tf_keras' CPU conv1d_transpose rejects dilation > 1)")
def _(c):
    i = c.K.Input((8, 4))
    return _model(c.K, i, c.L.Conv1DTranspose(9, 3, dilation_rate=2)(i))


# ----------------------------------------------------------------------------- Pooling

@case("maxpool2d_valid", note="MaxPooling2D(2) valid on 8x8, and MaxPooling2D((3, 2), strides=(2, 1)) valid on 9x7")
def _(c):
    a = c.K.Input((8, 8, 3))
    b = c.K.Input((9, 7, 3))
    return _model(c.K, [a, b], [c.L.MaxPooling2D(2)(a), c.L.MaxPooling2D((3, 2), strides=(2, 1))(b)])


@case("maxpool2d_same_3s2", note="MaxPooling2D(3, strides=2, padding=same) on 8x8 (even: pad 0/1) and on 9x9 (odd: pad 1/1)")
def _(c):
    a = c.K.Input((8, 8, 3))
    b = c.K.Input((9, 9, 3))
    p = lambda: c.L.MaxPooling2D(3, strides=2, padding="same")
    return _model(c.K, [a, b], [p()(a), p()(b)])


@case("avgpool2d_valid", note="AveragePooling2D(2) valid on 8x8, and AveragePooling2D((2, 3), strides=(1, 2)) valid on 7x9")
def _(c):
    a = c.K.Input((8, 8, 3))
    b = c.K.Input((7, 9, 3))
    return _model(c.K, [a, b], [c.L.AveragePooling2D(2)(a), c.L.AveragePooling2D((2, 3), strides=(1, 2))(b)])


@case("avgpool2d_same_3s2", note="AveragePooling2D(3, strides=2, padding=same) on 8x8 and 9x9 (padding excluded from the average count), plus AveragePooling2D(2, padding=same) (stride 2) on 7x7")
def _(c):
    a = c.K.Input((8, 8, 3))
    b = c.K.Input((9, 9, 3))
    d = c.K.Input((7, 7, 2))
    p = lambda: c.L.AveragePooling2D(3, strides=2, padding="same")
    return _model(c.K, [a, b, d], [p()(a), p()(b), c.L.AveragePooling2D(2, padding="same")(d)])


@case("maxpool1d", note="MaxPooling1D(2) valid on length 10; MaxPooling1D(3, strides=2, padding=same) on 10 and 11")
def _(c):
    a = c.K.Input((10, 3))
    b = c.K.Input((11, 3))
    p = lambda: c.L.MaxPooling1D(3, strides=2, padding="same")
    return _model(c.K, [a, b], [c.L.MaxPooling1D(2)(a), p()(a), p()(b)])


@case("maxpool_after_relu_pad", note="ZeroPadding then MaxPooling after a ReLU (ResNet's stem; dlinfer folds the padding into the pool): "
      "relu conv, pad 1, pool 3/2; ReLU layer, pad ((0, 1), (1, 0)), pool 2; 1D relu conv, pad 1, pool 3/2. Not foldable, checked too: "
      "pad 1 then pool 2 after a linear conv (the zeros win over negatives), pad 2 then pool 2 after a ReLU (a window of padding only)")
def _(c):
    a = c.K.Input((9, 9, 3))
    b = c.K.Input((10, 3))
    L = c.L
    stem = L.MaxPooling2D(3, strides=2)(L.ZeroPadding2D(1)(L.Conv2D(4, 3, padding="same", activation="relu")(a)))
    asym = L.MaxPooling2D(2)(L.ZeroPadding2D(((0, 1), (1, 0)))(L.ReLU()(L.Conv2D(4, 1)(a))))
    one_d = L.MaxPooling1D(3, strides=2)(L.ZeroPadding1D(1)(L.Conv1D(4, 3, activation="relu")(b)))
    linear = L.MaxPooling2D(2)(L.ZeroPadding2D(1)(L.Conv2D(4, 1)(a)))
    wide = L.MaxPooling2D(2)(L.ZeroPadding2D(2)(L.Conv2D(4, 1, activation="relu")(a)))
    return _model(c.K, [a, b], [stem, asym, one_d, linear, wide])


@case("avgpool1d", note="AveragePooling1D(2) valid on length 10; AveragePooling1D(3, strides=2, padding=same) on 10 and 11")
def _(c):
    a = c.K.Input((10, 3))
    b = c.K.Input((11, 3))
    p = lambda: c.L.AveragePooling1D(3, strides=2, padding="same")
    return _model(c.K, [a, b], [c.L.AveragePooling1D(2)(a), p()(a), p()(b)])


@case("global_pool2d", note="outputs: GlobalAveragePooling2D(), GlobalAveragePooling2D(keepdims=True), GlobalMaxPooling2D(), GlobalMaxPooling2D(keepdims=True) on (6, 7, 4)")
def _(c):
    i = c.K.Input((6, 7, 4))
    L = c.L
    return _model(c.K, i, [L.GlobalAveragePooling2D()(i), L.GlobalAveragePooling2D(keepdims=True)(i),
                           L.GlobalMaxPooling2D()(i), L.GlobalMaxPooling2D(keepdims=True)(i)])


@case("global_pool1d", note="outputs: GlobalAveragePooling1D(), GlobalAveragePooling1D(keepdims=True), GlobalMaxPooling1D(), GlobalMaxPooling1D(keepdims=True) on (9, 4)")
def _(c):
    i = c.K.Input((9, 4))
    L = c.L
    return _model(c.K, i, [L.GlobalAveragePooling1D()(i), L.GlobalAveragePooling1D(keepdims=True)(i),
                           L.GlobalMaxPooling1D()(i), L.GlobalMaxPooling1D(keepdims=True)(i)])


# ----------------------------------------------------------------------------- BatchNormalization

@case("bn_axis_last", note="BatchNormalization() axis=-1 on (6, 6, 4), epsilon 1e-3; tf_keras stores axis as a list [3]")
def _(c):
    i = c.K.Input((6, 6, 4))
    return _model(c.K, i, c.L.BatchNormalization()(i))


@case("bn_axis1", note="BatchNormalization(axis=1) on rank-4 (4, 5, 6): channels-first normalization axis")
def _(c):
    i = c.K.Input((4, 5, 6))
    return _model(c.K, i, c.L.BatchNormalization(axis=1)(i))


@case("bn_center_false", note="BatchNormalization(center=False, epsilon=0.01) on (8,): no beta weight")
def _(c):
    i = c.K.Input((8,))
    return _model(c.K, i, c.L.BatchNormalization(center=False, epsilon=0.01)(i))


@case("bn_scale_false", note="BatchNormalization(scale=False) on (5, 6): no gamma weight")
def _(c):
    i = c.K.Input((5, 6))
    return _model(c.K, i, c.L.BatchNormalization(scale=False)(i))


@case("bn_no_center_no_scale", note="BatchNormalization(center=False, scale=False) after Conv2D: only moving stats")
def _(c):
    i = c.K.Input((6, 6, 3))
    x = c.L.Conv2D(4, 3, padding="same")(i)
    return _model(c.K, i, c.L.BatchNormalization(center=False, scale=False)(x))


# ----------------------------------------------------------------------------- Reshaping

@case("flatten", note="Flatten on (3, 4, 5) (row-major order) then Dense(4)")
def _(c):
    i = c.K.Input((3, 4, 5))
    f = c.L.Flatten()(i)
    return _model(c.K, i, [f, c.L.Dense(4)(f)])


@case("reshape", note="Reshape((3, -1)) on (4, 6) -> (3, 8); Reshape((2, 2, 6)) on the same input")
def _(c):
    i = c.K.Input((4, 6))
    return _model(c.K, i, [c.L.Reshape((3, -1))(i), c.L.Reshape((2, 2, 6))(i)])


@case("permute", note="Permute((2, 1, 3)) and Permute((3, 1, 2)) on (3, 4, 5)")
def _(c):
    i = c.K.Input((3, 4, 5))
    return _model(c.K, i, [c.L.Permute((2, 1, 3))(i), c.L.Permute((3, 1, 2))(i)])


@case("zeropad_crop", note="ZeroPadding1D((1, 2)), Cropping1D((1, 2)) on (8, 3); ZeroPadding2D(((1, 2), (3, 0))), Cropping2D(((1, 2), (0, 3))) on (7, 8, 2); a Conv in front so padded zeros are visible")
def _(c):
    a = c.K.Input((8, 3))
    b = c.K.Input((7, 8, 2))
    L = c.L
    ya = L.Conv1D(3, 1)(a)
    yb = L.Conv2D(2, 1)(b)
    return _model(c.K, [a, b], [L.ZeroPadding1D((1, 2))(ya), L.Cropping1D((1, 2))(ya),
                                L.ZeroPadding2D(((1, 2), (3, 0)))(yb), L.Cropping2D(((1, 2), (0, 3)))(yb)])


@case("upsampling", note="UpSampling1D(2) on (5, 3); UpSampling2D((2, 3)) nearest and UpSampling2D((2, 3), interpolation=bilinear) on (4, 5, 2)")
def _(c):
    a = c.K.Input((5, 3))
    b = c.K.Input((4, 5, 2))
    L = c.L
    return _model(c.K, [a, b], [L.UpSampling1D(2)(a), L.UpSampling2D((2, 3))(b),
                                L.UpSampling2D((2, 3), interpolation="bilinear")(b)])


# ----------------------------------------------------------------------------- Preprocessing

@case("rescaling", note="Rescaling(scale=0.5, offset=-1.0) then Rescaling(1/255.)")
def _(c):
    i = c.K.Input((4, 5, 3))
    x = c.L.Rescaling(scale=0.5, offset=-1.0)(i)
    return _model(c.K, i, c.L.Rescaling(1.0 / 255)(x))


@case("normalization_adapted", note="Normalization(axis=-1) adapted on data, then mean/variance overwritten with random values (variance in 0.5..1.5); stored as weights mean, variance, count")
def _(c):
    import numpy as np
    i = c.K.Input((5, 3))
    n = c.L.Normalization(axis=-1)
    n.adapt((c.rng.standard_normal((32, 5, 3)) * [1.0, 2.0, 0.5] + [0.5, -1.0, 2.0]).astype(np.float32))
    return _model(c.K, i, n(i))


@case("normalization_const", note="Normalization(axis=-1, mean=[0.5,-1,2,0], variance=[1,4,0.25,2]) (values in config, no weights) on (5, 4)")
def _(c):
    i = c.K.Input((5, 4))
    n = c.L.Normalization(axis=-1, mean=[0.5, -1.0, 2.0, 0.0], variance=[1.0, 4.0, 0.25, 2.0])
    return _model(c.K, i, n(i))


@case("normalization_invert", note="Normalization(axis=-1, invert=True) adapted on data, mean/variance then overwritten with random values (variance 0.5..1.5): y = mean + x * max(sqrt(variance), epsilon 1e-7) on (5, 3)")
def _(c):
    import numpy as np
    i = c.K.Input((5, 3))
    n = c.L.Normalization(axis=-1, invert=True)
    n.adapt((c.rng.standard_normal((32, 5, 3)) * [1.0, 2.0, 0.5] + [0.5, -1.0, 2.0]).astype(np.float32))
    return _model(c.K, i, n(i))


@case("normalization_axis1_rank3", note="Normalization(axis=1) on rank-3 input (5, 3): per-timestep statistics, mean/variance shape (5,) broadcast as (1, 5, 1); adapted on data, then mean/variance overwritten with random values")
def _(c):
    import numpy as np
    i = c.K.Input((5, 3))
    n = c.L.Normalization(axis=1)
    n.adapt((c.rng.standard_normal((32, 5, 3)) * np.linspace(0.5, 2.0, 5)[:, None]
             + np.linspace(-1.0, 1.0, 5)[:, None]).astype(np.float32))
    return _model(c.K, i, n(i))


@case("int32_dense", note="Input(shape=(6,), dtype='int32') -> Dense(4): int32 input (small integers -50..50, stored <i4) cast to float32 by Dense")
def _(c):
    i = c.K.Input((6,), dtype="int32")
    return _model(c.K, i, c.L.Dense(4)(i))


@case("int32_rescaling_dense", note="Input(shape=(6,), dtype='int32') -> Rescaling(1/10) -> Dense(4, tanh): int32 input (small integers -50..50, stored <i4) cast to float32 by Rescaling")
def _(c):
    i = c.K.Input((6,), dtype="int32")
    x = c.L.Rescaling(1.0 / 10)(i)
    return _model(c.K, i, c.L.Dense(4, activation="tanh")(x))


# ----------------------------------------------------------------------------- identity at inference

@case("identity_1d", note="Dense(6) -> Dropout(0.5) -> SpatialDropout1D(0.3) -> GaussianNoise(0.4) -> GaussianDropout(0.3) -> AlphaDropout(0.2) -> ActivityRegularization(l1=0.01, l2=0.01) -> Dense(3); all identity at inference")
def _(c):
    L = c.L
    i = c.K.Input((7, 4))
    x = L.Dense(6)(i)
    x = L.Dropout(0.5)(x)
    x = L.SpatialDropout1D(0.3)(x)
    x = L.GaussianNoise(0.4)(x)
    x = L.GaussianDropout(0.3)(x)
    x = L.AlphaDropout(0.2)(x)
    x = L.ActivityRegularization(l1=0.01, l2=0.01)(x)
    return _model(c.K, i, L.Dense(3)(x))


@case("identity_2d", note="Conv2D -> SpatialDropout2D(0.4) -> Dropout(0.3, noise_shape=(None,1,1,4)) -> Conv2D; identity at inference")
def _(c):
    L = c.L
    i = c.K.Input((6, 6, 3))
    x = L.Conv2D(4, 3, padding="same")(i)
    x = L.SpatialDropout2D(0.4)(x)
    x = L.Dropout(0.3, noise_shape=(None, 1, 1, 4))(x)
    return _model(c.K, i, L.Conv2D(3, 1)(x))


@case("identity_3d", note="rank-5 input (3, 4, 5, 2): Dense(4) -> SpatialDropout3D(0.3) -> GaussianDropout(0.3) -> AlphaDropout(0.2) -> GaussianNoise(0.4) -> Dense(3); all identity at inference on rank-5 tensors")
def _(c):
    L = c.L
    i = c.K.Input((3, 4, 5, 2))
    x = L.Dense(4)(i)
    x = L.SpatialDropout3D(0.3)(x)
    x = L.GaussianDropout(0.3)(x)
    x = L.AlphaDropout(0.2)(x)
    x = L.GaussianNoise(0.4)(x)
    return _model(c.K, i, L.Dense(3)(x))


# ----------------------------------------------------------------------------- Merge

def _merge_case(cls_name):
    def build(c):
        a = c.K.Input((4, 5))
        b = c.K.Input((4, 5))
        return _model(c.K, [a, b], getattr(c.L, cls_name)()([a, b]))
    return build


for _cls in ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]:
    CASES.append(Case("merge_" + _cls.lower(), _merge_case(_cls),
                      note="%s()([a, b]) with two inputs (4, 5)" % _cls))


@case("merge_three_inputs", note="Add, Maximum, Average, Multiply over three inputs (3, 4); multi-output")
def _(c):
    xs = [c.K.Input((3, 4)) for _ in range(3)]
    L = c.L
    return _model(c.K, xs, [L.Add()(xs), L.Maximum()(xs), L.Average()(xs), L.Multiply()(xs)])


@case("concat_axis_last", note="Concatenate(axis=-1) of (3, 4, 2) and (3, 4, 5)")
def _(c):
    a = c.K.Input((3, 4, 2))
    b = c.K.Input((3, 4, 5))
    return _model(c.K, [a, b], c.L.Concatenate(axis=-1)([a, b]))


@case("concat_axis1", note="Concatenate(axis=1) of (2, 4, 3) and (3, 4, 3)")
def _(c):
    a = c.K.Input((2, 4, 3))
    b = c.K.Input((3, 4, 3))
    return _model(c.K, [a, b], c.L.Concatenate(axis=1)([a, b]))


@case("concat_axis2", note="Concatenate(axis=2) of (3, 2, 3) and (3, 5, 3)")
def _(c):
    a = c.K.Input((3, 2, 3))
    b = c.K.Input((3, 5, 3))
    return _model(c.K, [a, b], c.L.Concatenate(axis=2)([a, b]))


@case("merge_multi_output", note="two inputs (6,), two outputs: Dense(4)(Add([a, b])) and Concatenate()([Subtract([a, b]), b])")
def _(c):
    L = c.L
    a = c.K.Input((6,))
    b = c.K.Input((6,))
    y1 = L.Dense(4)(L.Add()([a, b]))
    y2 = L.Concatenate()([L.Subtract()([a, b]), b])
    return _model(c.K, [a, b], [y1, y2])


# ----------------------------------------------------------------------------- Activation layers

@case("relu_layer", input_scale=3.0,
      note="inputs ~N(0,3^2); outputs: ReLU(), ReLU(max_value=1.5), ReLU(negative_slope=0.1), ReLU(threshold=0.5), ReLU(max_value=2.0, negative_slope=0.2, threshold=0.5) (tf_keras rejects negative thresholds)")
def _(c):
    L = c.L
    i = c.K.Input((4, 6))
    return _model(c.K, i, [L.ReLU()(i), L.ReLU(max_value=1.5)(i), L.ReLU(negative_slope=0.1)(i),
                           L.ReLU(threshold=0.5)(i),
                           L.ReLU(max_value=2.0, negative_slope=0.2, threshold=0.5)(i)])


@case("leaky_relu_layer", input_scale=3.0,
      note="outputs: LeakyReLU() (default slope 0.3 in both generations) and LeakyReLU(0.15) (tf_keras: alpha=0.15, Keras 3: negative_slope=0.15)")
def _(c):
    L = c.L
    i = c.K.Input((4, 6))
    if c.k3:
        l2 = L.LeakyReLU(negative_slope=0.15)
    else:
        l2 = L.LeakyReLU(alpha=0.15)
    return _model(c.K, i, [L.LeakyReLU()(i), l2(i)])


@case("prelu", input_scale=2.0, note="Conv2D(3,1) -> PReLU() (alpha per element, shape (5,5,3)) and -> PReLU(shared_axes=[1, 2]) (alpha shape (1,1,3))")
def _(c):
    L = c.L
    i = c.K.Input((5, 5, 3))
    x = L.Conv2D(3, 1)(i)
    return _model(c.K, i, [L.PReLU()(x), L.PReLU(shared_axes=[1, 2])(x)])


@case("elu_layer", input_scale=3.0, note="ELU(alpha=0.7) and ELU() (alpha 1.0)")
def _(c):
    i = c.K.Input((4, 6))
    return _model(c.K, i, [c.L.ELU(alpha=0.7)(i), c.L.ELU()(i)])


@case("softmax_layer", input_scale=3.0, note="Softmax(axis=-1) and Softmax(axis=1) on (4, 5, 3)")
def _(c):
    i = c.K.Input((4, 5, 3))
    return _model(c.K, i, [c.L.Softmax(axis=-1)(i), c.L.Softmax(axis=1)(i)])


def _act_case(name):
    def build(c):
        i = c.K.Input((4, 6))
        return _model(c.K, i, c.L.Activation(name)(i))
    return build


def _activation_cases():
    out = []
    k3 = set(KERAS3_ACTIVATIONS)
    tk = set(TF_KERAS_ACTIVATIONS)
    for name in sorted(k3 | tk):
        gens = tuple(g for g, s in (("keras3", k3), ("tf_keras", tk)) if name in s)
        out.append(Case("act_" + name, _act_case(name), gens=gens, k3_forms=("keras",),
                        input_scale=3.0, note="Activation('%s') on (4, 6), inputs ~N(0,3^2)" % name))
    return out


def _all_acts_build(c):
    i = c.K.Input((4, 6))
    names = KERAS3_ACTIVATIONS if c.k3 else TF_KERAS_ACTIVATIONS
    outs = []
    for n in names:
        if n in c.unusable_activations:
            continue
        outs.append(c.L.Activation(n, name="act_" + n)(i))
    return _model(c.K, i, outs)


CASES.extend(_activation_cases())
CASES.append(Case("activations_all", _all_acts_build, gens=("keras3",), k3_forms=("h5",),
                  input_scale=3.0, note="one Activation branch per activation name (output order = list in note)"))


# ----------------------------------------------------------------------------- ops on symbolic tensors
# Keras 3: operators / keras.ops on KerasTensors become op layers serialized with module
# "keras.src.ops.numpy" (or "keras.src.ops.nn"). tf_keras: TF functions / operators on KerasTensors
# become TFOpLambda (config "function": "math.add", "__operators__.add", ...) and SlicingOpLambda
# (x[...]) layers. Same model structure per generation where possible; see each note.
# Keras 3 ops models have no `_h5` form: Keras 3 writes model.h5 but its legacy HDF5 config drops
# the op layers' "module" (so op "Add"/"Multiply"/"Subtract"/"Maximum"/"Concatenate"/"Reshape"
# read as the keras.layers classes of the same name) and Keras 3 cannot load the file back, so
# there is no Keras-verified reference for that form.
K3_OPS_NO_H5 = ("no _h5 form: Keras 3.15.1 saves it but cannot reload it (legacy HDF5 config has no "
                "'module' for op layers, so the loader resolves 'Add' to the merge layer and rejects the "
                "constant 3.0 argument, and fails with Unknown layer 'TrueDivide' / 'Square') -- untested")

@case("ops_relu6", gens=("keras3",), k3_forms=("keras",), input_scale=6.0,
      note="Dense(6) -> layers.ReLU(6.)(x + 3.0) * (1.0/6.0) (Keras 3 hard_sigmoid written as op layers: Add with a constant, ReLU(max_value=6), Multiply with a constant); inputs ~N(0,6^2) so both clip regions are hit; " + K3_OPS_NO_H5)
def _(c):
    i = c.K.Input((4, 5))
    x = c.L.Dense(6)(i)
    return _model(c.K, i, c.L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0))


@case("ops_relu6", gens=("tf_keras",), input_scale=6.0,
      note="Dense(6) -> two outputs: layers.ReLU(6.)(x + 3.0) * (1.0/6.0) (operators: TFOpLambda __operators__.add and math.multiply) and tf.math.multiply(tf.nn.relu6(tf.math.add(x, 3.0)), 1/6) * x (explicit TF functions: math.add, nn.relu6, math.multiply, hard-swish); inputs ~N(0,6^2) so both clip regions are hit")
def _(c):
    import tensorflow as tf
    i = c.K.Input((4, 5))
    x = c.L.Dense(6)(i)
    y1 = c.L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    y2 = tf.math.multiply(tf.nn.relu6(tf.math.add(x, 3.0)), 1.0 / 6.0) * x
    return _model(c.K, i, [y1, y2])


@case("ops_arith", gens=("keras3",), k3_forms=("keras",),
      note="two inputs (4, 5) through Dense(5) each (a, b); outputs a - b, a * b, a / 2.0, 2.0 - a (op layers Subtract / Multiply / TrueDivide / Subtract with the constant first); " + K3_OPS_NO_H5)
def _(c):
    a0 = c.K.Input((4, 5))
    b0 = c.K.Input((4, 5))
    a = c.L.Dense(5)(a0)
    b = c.L.Dense(5)(b0)
    return _model(c.K, [a0, b0], [a - b, a * b, a / 2.0, 2.0 - a])


@case("ops_arith", gens=("tf_keras",),
      note="two inputs (4, 5) through Dense(5) each (a, b); outputs a - b, a * b, a / 2.0, 2.0 - a (operators -> TFOpLambda math.subtract / math.multiply / math.truediv / __operators__ forms), then tf.math.add(a, b), tf.math.truediv(a, b*b + 1), tf.math.subtract(2.0, b), tf.math.multiply(a, 0.5)")
def _(c):
    import tensorflow as tf
    a0 = c.K.Input((4, 5))
    b0 = c.K.Input((4, 5))
    a = c.L.Dense(5)(a0)
    b = c.L.Dense(5)(b0)
    return _model(c.K, [a0, b0], [a - b, a * b, a / 2.0, 2.0 - a,
                                  tf.math.add(a, b), tf.math.truediv(a, b * b + 1.0),
                                  tf.math.subtract(2.0, b), tf.math.multiply(a, 0.5)])


@case("ops_mixed", gens=("keras3",), k3_forms=("keras",),
      note="input (4, 5, 3) -> Dense(3) = x; outputs: ops.mean(x, axis=[1, 2], keepdims=True) (1,1,3); "
           "ops.transpose(ops.reshape(ops.concatenate([ops.sqrt(ops.abs(x)), ops.exp(ops.negative(ops.square(x))), "
           "ops.sigmoid(x), ops.maximum(x, 0.)], axis=-1), (-1, 20, 12)), axes=(0, 2, 1)) (12, 20); " + K3_OPS_NO_H5)
def _(c):
    ops = c.K.ops
    i = c.K.Input((4, 5, 3))
    x = c.L.Dense(3)(i)
    m = ops.mean(x, axis=[1, 2], keepdims=True)
    cat = ops.concatenate([ops.sqrt(ops.abs(x)), ops.exp(ops.negative(ops.square(x))),
                           ops.sigmoid(x), ops.maximum(x, 0.0)], axis=-1)
    t = ops.transpose(ops.reshape(cat, (-1, 20, 12)), axes=(0, 2, 1))
    return _model(c.K, i, [m, t])


@case("ops_mixed", gens=("tf_keras",),
      note="input (4, 5, 3) -> Dense(3) = x; outputs: tf.math.reduce_mean(x, axis=[1, 2], keepdims=True) (1,1,3); "
           "tf.transpose(tf.reshape(tf.concat([tf.math.sqrt(tf.math.abs(x)), tf.math.exp(tf.math.negative(tf.math.square(x))), "
           "tf.math.sigmoid(x), tf.math.maximum(x, 0.)], axis=-1), [-1, 20, 12]), perm=[0, 2, 1]) (12, 20) "
           "(tf.transpose is serialized as function 'compat.v1.transpose' with kwargs perm/name/conjugate); "
           "x[:, 1:3, ::2, :] (SlicingOpLambda __operators__.getitem) (2, 3, 3)")
def _(c):
    import tensorflow as tf
    i = c.K.Input((4, 5, 3))
    x = c.L.Dense(3)(i)
    m = tf.math.reduce_mean(x, axis=[1, 2], keepdims=True)
    cat = tf.concat([tf.math.sqrt(tf.math.abs(x)), tf.math.exp(tf.math.negative(tf.math.square(x))),
                     tf.math.sigmoid(x), tf.math.maximum(x, 0.0)], axis=-1)
    t = tf.transpose(tf.reshape(cat, [-1, 20, 12]), perm=[0, 2, 1])
    return _model(c.K, i, [m, t, x[:, 1:3, ::2, :]])


# ----------------------------------------------------------------------------- Nesting / sharing

@case("nested_functional", note="functional model used as a layer: outer Dense(6) -> inner Model(Dense(5, relu) -> Dense(4)) -> Dense(3)")
def _(c):
    L, K = c.L, c.K
    ii = K.Input((6,))
    inner = K.Model(ii, L.Dense(4)(L.Dense(5, activation="relu")(ii)), name="inner_mlp")
    i = K.Input((6,))
    x = L.Dense(6)(i)
    return _model(K, i, L.Dense(3)(inner(x)))


@case("nested_called_twice", jw=True, note="one functional model used as a layer on two inputs (two calls, shared weights) and a Sequential called twice; outputs of the second calls are model outputs")
def _(c):
    L, K = c.L, c.K
    ii = K.Input((6,))
    inner = K.Model(ii, L.Dense(4, activation="tanh")(L.Dense(5, activation="relu")(ii)), name="inner_mlp")
    seq = K.Sequential([K.Input((4,)), L.Dense(3), L.BatchNormalization()], name="inner_seq")
    a, b = K.Input((6,)), K.Input((6,))
    ya, yb = inner(a), inner(b)
    za, zb = seq(ya), seq(yb)
    return K.Model([a, b], [L.Subtract()([za, zb]), zb, ya])


@case("nested_sequential", note="Sequential(Conv2D(4,3,same), BatchNormalization, ReLU) used inside a functional model, followed by GlobalAveragePooling2D and Dense(3)")
def _(c):
    L, K = c.L, c.K
    inner = K.Sequential([K.Input((7, 7, 3)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU()],
                         name="inner_seq")
    i = K.Input((7, 7, 3))
    x = inner(i)
    return _model(K, i, L.Dense(3)(L.GlobalAveragePooling2D()(x)))


@case("shared_layer", note="one Dense(5) applied to two inputs, results Subtract-ed; one Dense(5,5,tanh) applied twice in sequence (same weights)")
def _(c):
    L, K = c.L, c.K
    a = K.Input((5,))
    b = K.Input((5,))
    d = L.Dense(5, name="shared_dense")
    t = L.Dense(5, activation="tanh", name="twice_dense")
    y = L.Subtract()([d(a), d(b)])
    return _model(K, [a, b], t(t(y)))


# ----------------------------------------------------------------------------- json + weights

@case("jw_seq_cnn", k3_forms=(), jw=True, note="Sequential CNN Conv2D/MaxPooling2D/Conv2D/Flatten/Dense as model.to_json() + save_weights")
def _(c):
    L, K = c.L, c.K
    return K.Sequential([K.Input((10, 10, 2)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                         L.Conv2D(5, 3, padding="same"), L.Flatten(), L.Dense(3, activation="softmax")],
                        name="seq_cnn")


@case("jw_branchy", k3_forms=(), jw=True, note="functional branches: Conv2D + (DepthwiseConv2D, BatchNormalization) -> Concatenate -> Add with a 1x1 Conv2D branch -> GlobalMaxPooling2D -> Dense; to_json() + save_weights")
def _(c):
    L, K = c.L, c.K
    i = K.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(i)
    a = L.DepthwiseConv2D(3, padding="same")(x)
    b = L.BatchNormalization()(x)
    y = L.Concatenate()([a, b])
    z = L.Conv2D(8, 1)(i)
    y = L.Add()([y, z])
    return _model(K, i, L.Dense(4)(L.GlobalMaxPooling2D()(y)))


@case("jw_nested", k3_forms=(), jw=True, note="nested functional + nested Sequential sub-models inside a functional model, to_json() + save_weights")
def _(c):
    L, K = c.L, c.K
    si = K.Input((6, 6, 3))
    seq = K.Sequential([si, L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.Activation("relu")],
                       name="inner_seq")
    fi = K.Input((4,))
    fun = K.Model(fi, L.Dense(3, activation="tanh")(L.Dense(6)(fi)), name="inner_fun")
    i = K.Input((6, 6, 3))
    x = L.GlobalAveragePooling2D()(seq(i))
    return _model(K, i, fun(x))


# ----------------------------------------------------------------------------- LayerNormalization

@case("layernorm_last", note="LayerNormalization(epsilon=1e-5) over the last axis of (5, 6); random gamma/beta")
def _(c):
    i = c.K.Input((5, 6))
    return _model(c.K, i, c.L.LayerNormalization(epsilon=1e-5)(i))


@case("layernorm_axes12", note="LayerNormalization(axis=[1, 2]) on (4, 5, 3): statistics over two axes, gamma/beta of shape (4, 5)")
def _(c):
    i = c.K.Input((4, 5, 3))
    return _model(c.K, i, c.L.LayerNormalization(axis=[1, 2])(i))


@case("layernorm_axis1_nocenter", note="LayerNormalization(axis=1, center=False) on (4, 6): a non-last axis, gamma only")
def _(c):
    i = c.K.Input((4, 6))
    return _model(c.K, i, c.L.LayerNormalization(axis=1, center=False)(i))


@case("layernorm_noscale", note="LayerNormalization(scale=False, epsilon=0.1) on (3, 8): beta only, large epsilon")
def _(c):
    i = c.K.Input((3, 8))
    return _model(c.K, i, c.L.LayerNormalization(scale=False, epsilon=0.1)(i))


# ----------------------------------------------------------------------------- keras.applications helpers

def _application_helpers(c):
    if c.gen == "keras3":
        from keras.src.applications.convnext import LayerScale, StochasticDepth
        from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    else:
        from tf_keras.src.applications.convnext import LayerScale, StochasticDepth
        from tf_keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    return CustomScaleLayer, LayerScale, StochasticDepth


@case("app_helpers", note="keras.applications helper layers: CustomScaleLayer(0.17)([x, conv(x)]) (InceptionResNetV2), LayerScale(1e-6 init, random gamma) and StochasticDepth(0.1) (ConvNeXt) on (6, 6, 4)")
def _(c):
    CustomScaleLayer, LayerScale, StochasticDepth = _application_helpers(c)
    i = c.K.Input((6, 6, 4))
    r = c.L.Conv2D(4, 3, padding="same")(i)
    x = CustomScaleLayer(0.17)([i, r])
    y = LayerScale(1e-6, 4)(x)
    y = StochasticDepth(0.1)(y)
    return _model(c.K, i, c.L.Add()([x, y]))


# ----------------------------------------------------------------------------- NaN / Inf inputs

@case("nonfinite_cnn", nonfinite=True, note="NaN, +Inf and -Inf in the input of Conv2D -> BatchNormalization -> ReLU -> MaxPooling2D(same) -> AveragePooling2D -> Flatten -> Dense(softmax): how Keras propagates them")
def _(c):
    i = c.K.Input((6, 6, 2))
    x = c.L.Conv2D(3, 3, padding="same")(i)
    x = c.L.BatchNormalization()(x)
    x = c.L.ReLU()(x)
    x = c.L.MaxPooling2D(2, padding="same")(x)
    x = c.L.AveragePooling2D(3, strides=1, padding="same")(x)
    x = c.L.Flatten()(x)
    return _model(c.K, i, c.L.Dense(4, activation="softmax")(x))


@case("nonfinite_elementwise", nonfinite=True, note="NaN, +Inf and -Inf through elementwise layers: ReLU, tanh, sigmoid, Maximum/Minimum, GlobalMaxPooling1D, LayerNormalization")
def _(c):
    i = c.K.Input((5, 4))
    a = c.L.ReLU()(i)
    b = c.L.Activation("tanh")(i)
    s = c.L.Activation("sigmoid")(i)
    mx = c.L.Maximum()([a, b])
    mn = c.L.Minimum()([b, s])
    g = c.L.GlobalMaxPooling1D()(i)
    ln = c.L.LayerNormalization()(i)
    return c.K.Model(i, [a, b, s, mx, mn, g, ln])
