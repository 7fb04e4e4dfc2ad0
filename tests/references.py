"""Primitive-only decompositions of the fused nn ops of part 1 (linear, activations, losses,
norms, dropout, embedding).

Each reference has the signature of its ``chainrule.nn.functional`` counterpart and uses only
primitive ops (elementwise, reductions, matmul/einsum, where, indexing, reshape), so its gradient
comes from autodiff, never from a hand-written VJP. ``tests/nn/test_references.py`` checks that
every fused op's values and VJP equal these (DESIGN §2.5). Written for clarity, not speed.
"""

from __future__ import annotations

import math

import numpy as np

import chainrule as cr


def _const(a, like):
    return cr.tensor(np.asarray(a), dtype=like.dtype)


def _reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (loss.numel() if denom is None else denom)


# ------------------------------------------------------------------ linear


def linear(x, w, b=None):
    y = cr.matmul(x, w.T)
    return y + b if b is not None else y


def bilinear(x1, x2, w, b=None):
    y = cr.einsum("...i,oij,...j->...o", x1, w, x2)
    return y + b if b is not None else y


# ------------------------------------------------------------------ activations


def gelu(x, approximate="none"):
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + cr.tanh(inner))
    return 0.5 * x * (1 + cr.erf(x / math.sqrt(2)))


def silu(x):
    return x * cr.sigmoid(x)


def _softplus(x):
    return cr.clamp(x, 0.0, None) + cr.log1p(cr.exp(-x.abs()))


def mish(x):
    return x * cr.tanh(_softplus(x))


def elu(x, alpha=1.0):
    return cr.where(x > 0, x, alpha * (cr.exp(cr.clamp(x, None, 0.0)) - 1))


def selu(x):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def celu(x, alpha=1.0):
    return cr.where(x > 0, x, alpha * (cr.exp(cr.clamp(x, None, 0.0) / alpha) - 1))


def softplus(x, beta=1.0, threshold=20.0):
    return cr.where(x * beta > threshold, x, _softplus(x * beta) / beta)


def leaky_relu(x, negative_slope=0.01):
    return cr.where(x > 0, x, x * negative_slope)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return cr.clamp(x, min_val, max_val)


def relu6(x):
    return cr.clamp(x, 0.0, 6.0)


def hardswish(x):
    return x * cr.clamp(x + 3, 0.0, 6.0) / 6


def hardsigmoid(x):
    return cr.clamp(x + 3, 0.0, 6.0) / 6


def logsigmoid(x):
    return -_softplus(-x)


def softsign(x):
    return x / (1 + x.abs())


def threshold(x, threshold, value):
    return cr.where(x > threshold, x, _const(value, x) * cr.ones_like(x))


def prelu(x, weight):
    a = weight.reshape((1, -1) + (1,) * (x.ndim - 2)) if weight.numel() > 1 else weight.sum()
    return cr.where(x > 0, x, a * x)


# ------------------------------------------------------------------ losses


def _log_softmax(x, dim):
    return x - cr.logsumexp(x, dim, keepdim=True)


def _classes_last(x):
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return cr.movedim(x, 1, -1).reshape(-1, x.shape[1])


def nll_loss(x, target, weight=None, ignore_index=-100, reduction="mean"):
    z = _classes_last(x)
    t = target.numpy().reshape(-1)
    keep = t != ignore_index
    t_safe = np.where(keep, t, 0)
    w = np.ones(z.shape[1]) if weight is None else weight.numpy()
    wt = _const(np.where(keep, w[t_safe], 0.0), x)
    picked = cr.gather(z, 1, cr.tensor(t_safe.reshape(-1, 1))).reshape(-1)
    loss = (-wt * picked).reshape(tuple(target.shape))
    return _reduce(loss, reduction, wt.sum() if reduction == "mean" else None)


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    n_cls = x.shape[0] if x.ndim == 1 else x.shape[1]
    logp = _log_softmax(x, 0 if x.ndim == 1 else 1)
    if target.dtype.is_floating_point:
        q = target
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / n_cls
        z, qz = _classes_last(logp), _classes_last(q)
        if weight is not None:
            qz = qz * weight
        loss = -(qz * z).sum(1).reshape((x.shape[0], *x.shape[2:]) if x.ndim > 1 else ())
        return _reduce(loss, reduction, z.shape[0] if reduction == "mean" else None)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    z = _classes_last(logp)
    t = target.numpy().reshape(-1)
    keep = _const((t != ignore_index).astype(np.float64), x)
    wz = z * weight if weight is not None else z
    smooth = (-wz.sum(1) * keep).reshape(tuple(target.shape))
    if reduction == "mean":
        w = np.ones(n_cls) if weight is None else weight.numpy()
        denom = float(np.where(t != ignore_index, w[np.where(t != ignore_index, t, 0)], 0).sum())
        smooth = smooth.sum() / denom
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_cls)


def mse_loss(x, y, reduction="mean"):
    return _reduce((x - y) * (x - y), reduction)


def l1_loss(x, y, reduction="mean"):
    return _reduce((x - y).abs(), reduction)


def smooth_l1_loss(x, y, reduction="mean", beta=1.0):
    d = x - y
    ad = d.abs()
    return _reduce(cr.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta), reduction)


def huber_loss(x, y, reduction="mean", delta=1.0):
    d = x - y
    ad = d.abs()
    return _reduce(cr.where(ad <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta)), reduction)


def binary_cross_entropy(x, y, weight=None, reduction="mean"):
    loss = -(y * cr.clamp(cr.log(x), -100.0, None) + (1 - y) * cr.clamp(cr.log1p(-x), -100.0, None))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(x, y, weight=None, reduction="mean", pos_weight=None):
    sp = _softplus(-x)
    lw = 1 + (pos_weight - 1) * y if pos_weight is not None else 1.0
    loss = (1 - y) * x + lw * sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(x, y, reduction="mean", log_target=False):
    loss = cr.exp(y) * (y - x) if log_target else y * (cr.log(y) - x)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ normalisation


def _normalize(x, axes, eps):
    mean = x.mean(axes, keepdim=True)
    var = ((x - mean) * (x - mean)).mean(axes, keepdim=True)
    return (x - mean) / cr.sqrt(var + eps)


def batch_norm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        xh = _normalize(x, axes, eps)
    else:
        xh = (x - running_mean.reshape(shape)) / cr.sqrt(running_var.reshape(shape) + eps)
    if weight is not None:
        xh = xh * weight.reshape(shape)
    if bias is not None:
        xh = xh + bias.reshape(shape)
    return xh


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    y = _normalize(x, axes, eps)
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = x.shape[:2]
    y = _normalize(x.reshape(n, num_groups, -1), (2,), eps).reshape(tuple(x.shape))
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


def rms_norm(x, normalized_shape, weight=None, eps=None):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    e = float(np.finfo(x.numpy(force=True).dtype).eps) if eps is None else eps
    y = x / cr.sqrt((x * x).mean(axes, keepdim=True) + e)
    return y * weight if weight is not None else y


# ------------------------------------------------------------------ dropout / embedding


def dropout_with_mask(x, mask, scale):
    return x * _const(mask.astype(np.float64) * scale, x)


def embedding(indices, weight, padding_idx=None):
    flat = indices.numpy().reshape(-1)
    out = cr.index_select(weight, 0, cr.tensor(flat)).reshape((*indices.shape, weight.shape[1]))
    if padding_idx is None:
        return out
    # the padding row carries no gradient: route its reads through a detached copy
    is_pad = _const((indices.numpy() == padding_idx)[..., None].astype(np.float64), weight)
    return out * (1 - is_pad) + out.detach() * is_pad
