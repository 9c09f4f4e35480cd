"""The numerics contract of Tests/Fixtures manifests (same rule as the Swift tests)."""
import numpy as np


def mismatch(y, ref, tolerance, argmax=False):
    """None if y meets the manifest's tolerance against ref, else a description."""
    if y.shape != ref.shape:
        return "shape %s, reference %s" % (y.shape, ref.shape)
    # Keras' NaN and infinities must come out as they are: equal, or both NaN.
    same = (np.isnan(y) & np.isnan(ref)) | (y == ref)
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0, np.abs(y.astype(np.float64) - ref))
    err = np.where(np.isnan(err), np.inf, err)
    if tolerance["rule"] == "elementwise":
        bound = tolerance.get("atol", 1e-4) + tolerance.get("rtol", 1e-4) * np.abs(ref)
        with np.errstate(invalid="ignore"):
            bad = ~same & ~(err <= bound)
        if bad.any():
            i = np.unravel_index(np.argmax(np.where(bad, err, -1)), err.shape)
            return "element %s: |y - ref| = %g (ref %g)" % (i, err[i], ref[i])
    elif tolerance["rule"] == "max_rel":
        if not err.max() <= tolerance["max_rel"] * np.abs(ref[np.isfinite(ref)]).max():
            return "max abs error %g > %g * max|ref| %g" % (err.max(), tolerance["max_rel"], np.abs(ref).max())
    else:
        return "unknown rule %r" % tolerance["rule"]
    if argmax and not np.array_equal(y.reshape(-1, y.shape[-1]).argmax(-1), ref.reshape(-1, ref.shape[-1]).argmax(-1)):
        return "argmax differs"
    return None
