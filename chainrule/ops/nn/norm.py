"""Fused normalisation layers: batch_norm, layer_norm, group_norm (one node each).

All three share one backward: with x̂ = (x − μ)·σ⁻¹ over a set of axes and gx̂ = ȳ·γ,
x̄ = σ⁻¹ · (gx̂ − mean(gx̂) − x̂ · mean(gx̂ · x̂)), the means taken over the normalised axes.
"""

from __future__ import annotations

import numpy as np

from .._registry import op


def _norm_backward(gxh: np.ndarray, xh: np.ndarray, inv: np.ndarray, axes: tuple) -> np.ndarray:
    m1 = gxh.mean(axis=axes, keepdims=True)
    m2 = (gxh * xh).mean(axis=axes, keepdims=True)
    return inv * (gxh - m1 - xh * m2)


@op(
    "batch_norm",
    formula="x̄ = γσ⁻¹(ȳ − mean ȳ − x̂·mean(ȳx̂)) (training),  γ̄ = Σ ȳx̂,  β̄ = Σ ȳ",
    onnx="BatchNormalization",
    backward_name="NativeBatchNormBackward0",
)
def batch_norm(
    x,
    weight=None,
    bias=None,
    running_mean=None,
    running_var=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Batch norm over (N, C, *) with channels on axis 1.

    In training the batch statistics normalise and the running statistics (if given) are
    updated in place: r ← (1 − momentum)·r + momentum·stat, with the unbiased variance
    (n/(n−1)) for ``running_var``, as torch does. In eval the running statistics normalise and
    the op is affine in x.
    """
    axes = (0, *range(2, x.ndim))
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean = x.mean(axis=axes)
        xc = x - mean.reshape(bshape)
        var = (xc * xc).mean(axis=axes)
        if running_mean is not None:
            n = x.size // x.shape[1]
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean
            running_var *= 1.0 - momentum
            running_var += (momentum * n / max(n - 1, 1)) * var
    else:
        # running statistics may be stored in another float dtype: compute in x's dtype
        mean = running_mean.astype(x.dtype, copy=False)
        var = running_var.astype(x.dtype, copy=False)
        xc = x - mean.reshape(bshape)
    inv = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False).reshape(bshape)
    xh = xc * inv
    y = xh * weight.reshape(bshape) if weight is not None else xh.copy()
    if bias is not None:
        y += bias.reshape(bshape)

    def vjp(g, needs):
        gx = gw = gb = None
        if needs[0]:
            gxh = g * weight.reshape(bshape) if weight is not None else g
            gx = _norm_backward(gxh, xh, inv, axes) if training else gxh * inv
        if weight is not None and needs[1]:
            gw = (g * xh).sum(axis=axes)
        if bias is not None and needs[2]:
            gb = g.sum(axis=axes)
        return gx, gw, gb

    return y, vjp


@op(
    "layer_norm",
    formula="x̄ = σ⁻¹(ĝ − mean ĝ − x̂·mean(ĝx̂)),  ĝ = ȳγ,  γ̄ = Σ ȳx̂,  β̄ = Σ ȳ",
    onnx="LayerNormalization",
    backward_name="NativeLayerNormBackward0",
)
def layer_norm(x, weight=None, bias=None, normalized_ndim=1, eps=1e-5):
    """Normalise over the last ``normalized_ndim`` dims; γ, β have those dims' shape."""
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    lead = tuple(range(x.ndim - normalized_ndim))
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    inv = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    xh = xc * inv
    y = xh * weight if weight is not None else xh.copy()
    if bias is not None:
        y += bias

    def vjp(g, needs):
        gx = gw = gb = None
        if needs[0]:
            gxh = g * weight if weight is not None else g
            gx = _norm_backward(gxh, xh, inv, axes)
        if weight is not None and needs[1]:
            gw = (g * xh).sum(axis=lead)
        if bias is not None and needs[2]:
            gb = g.sum(axis=lead)
        return gx, gw, gb

    return y, vjp


@op(
    "group_norm",
    formula="per group: x̄ = σ⁻¹(ĝ − mean ĝ − x̂·mean(ĝx̂)),  ĝ = ȳγ;  γ̄ = Σ ȳx̂,  β̄ = Σ ȳ",
    backward_name="NativeGroupNormBackward0",
)
def group_norm(x, weight=None, bias=None, num_groups=1, eps=1e-5):
    """Normalise (N, C, *) over each group of C/G channels and all spatial positions."""
    n, c = x.shape[:2]
    xg = x.reshape(n, num_groups, -1)
    mean = xg.mean(axis=2, keepdims=True)
    xc = xg - mean
    var = (xc * xc).mean(axis=2, keepdims=True)
    inv = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    xh = (xc * inv).reshape(x.shape)
    cshape = (1, c) + (1,) * (x.ndim - 2)
    axes = (0, *range(2, x.ndim))
    y = xh * weight.reshape(cshape) if weight is not None else xh.copy()
    if bias is not None:
        y += bias.reshape(cshape)

    def vjp(g, needs):
        gx = gw = gb = None
        if needs[0]:
            gxh = g * weight.reshape(cshape) if weight is not None else g
            gx = _norm_backward(
                gxh.reshape(n, num_groups, -1), xh.reshape(n, num_groups, -1), inv, (2,)
            ).reshape(x.shape)
        if weight is not None and needs[1]:
            gw = (g * xh).sum(axis=axes)
        if bias is not None and needs[2]:
            gb = g.sum(axis=axes)
        return gx, gw, gb

    return y, vjp


@op("rms_norm", formula="x̄ = r⁻¹(ĝ − x̂·mean(ĝx̂)),  ĝ = ȳγ,  γ̄ = Σ ȳx̂")
def rms_norm(x, weight=None, normalized_ndim=1, eps=None):
    """x / sqrt(mean(x²) + eps) over the last dims (eps None → the dtype's machine epsilon)."""
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    lead = tuple(range(x.ndim - normalized_ndim))
    e = float(np.finfo(x.dtype).eps) if eps is None else eps
    inv = (1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + e)).astype(x.dtype, copy=False)
    xh = x * inv
    y = xh * weight if weight is not None else xh

    def vjp(g, needs):
        gx = gw = None
        if needs[0]:
            gxh = g * weight if weight is not None else g
            gx = inv * (gxh - xh * (gxh * xh).mean(axis=axes, keepdims=True))
        if weight is not None and needs[1]:
            gw = (g * xh).sum(axis=lead)
        return gx, gw

    return y, vjp
