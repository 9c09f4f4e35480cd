"""Whole-model classifier cases (softmax outputs, argmax must agree)."""
from .common import Case, TOL_ELEMENTWISE, TOL_MAX_REL

CASES = []


def _cnn_classic(c):
    L, K = c.L, c.K
    return K.Sequential([
        K.Input((28, 28, 1)),
        L.Conv2D(8, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(16, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(32, activation="relu"),
        L.Dense(10, activation="softmax"),
    ], name="cnn_classic")


def _resnet_small(c):
    L, K = c.L, c.K

    def conv_bn(x, f, k, s=1, act=True):
        x = L.Conv2D(f, k, strides=s, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        return L.Activation("relu")(x) if act else x

    def block(x, f, s):
        shortcut = x
        y = conv_bn(x, f, 3, s)
        y = conv_bn(y, f, 3, 1, act=False)
        if s != 1 or int(x.shape[-1]) != f:
            shortcut = L.Conv2D(f, 1, strides=s, use_bias=False)(x)   # projection shortcut
            shortcut = L.BatchNormalization()(shortcut)
        return L.Activation("relu")(L.Add()([y, shortcut]))

    i = K.Input((32, 32, 3))
    x = conv_bn(i, 16, 3)
    x = block(x, 16, 1)        # identity shortcut
    x = block(x, 24, 2)        # projection shortcut
    x = block(x, 24, 1)        # identity
    x = block(x, 32, 2)        # projection
    x = L.GlobalAveragePooling2D()(x)
    return K.Model(i, L.Dense(10, activation="softmax")(x), name="resnet_small")


def _xception_small(c):
    L, K = c.L, c.K
    i = K.Input((32, 32, 3))
    x = L.Conv2D(16, 3, strides=2, use_bias=False)(i)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(24, 3, use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    for j, f in enumerate((32, 48, 64)):
        residual = L.Conv2D(f, 1, strides=2, padding="same", use_bias=False)(x)
        residual = L.BatchNormalization()(residual)
        if j > 0:
            x = L.Activation("relu")(x)
        x = L.SeparableConv2D(f, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(f, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        x = L.Add()([x, residual])
    x = L.SeparableConv2D(96, 3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return K.Model(i, L.Dense(10, activation="softmax")(x), name="xception_small")


def _mobilenetv2(c):
    return c.K.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)


CASES.append(Case("cnn_classic", _cnn_classic, argmax=True, tol=TOL_ELEMENTWISE, logit_std=2.0,
                  note="classic Sequential CNN on 28x28x1: Conv2D(8,3,relu)/MaxPool(2)/Conv2D(16,3,relu)/MaxPool(2)/Flatten/Dense(32,relu)/Dense(10,softmax)"))
CASES.append(Case("resnet_small", _resnet_small, argmax=True, tol=TOL_ELEMENTWISE, calibrate_bn=True,
                  logit_std=2.0,
                  note="ResNet-style net 32x32x3: conv-BN-relu stem, 4 residual blocks (identity and 1x1 strided projection shortcuts), GAP, Dense(10,softmax); BN moving stats calibrated on random data then jittered"))
CASES.append(Case("xception_small", _xception_small, argmax=True, tol=TOL_ELEMENTWISE, calibrate_bn=True,
                  logit_std=2.0,
                  note="Xception entry-flow-like net 32x32x3: strided Conv2D stem, 3 blocks of SeparableConv2D+BN+ReLU with MaxPool(3,2,same) and strided 1x1 Conv2D+BN residual shortcuts, GAP, Dense(10,softmax); BN stats calibrated"))
CASES.append(Case("mobilenetv2_035", _mobilenetv2, argmax=True, tol=TOL_MAX_REL, calibrate_bn=True,
                  batch=1, logit_std=2.0,
                  note="keras.applications MobileNetV2(input_shape=(96,96,3), alpha=0.35, weights=None, classes=10), batch 1; BN stats calibrated on random data then jittered"))
