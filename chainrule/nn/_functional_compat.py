"""More of ``torch.nn.functional`` for ported scripts: resizing, pixel shuffle, distances and the
metric-learning / probabilistic losses.

Every function is a composition of existing ops (index_select, arithmetic, reductions), so
gradients, dtypes and ONNX export come from those ops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _api
from .._tensor import Tensor

__all__ = [
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
    "pairwise_distance",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "gaussian_nll_loss",
    "poisson_nll_loss",
    "instance_norm",
    "gumbel_softmax",
]

_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "bicubic": 2}
_MODES |= {"trilinear": 3, "area": 0}


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


# ---------------------------------------------------------------------------- resizing


def _out_sizes(input: Tensor, size: Any, scale_factor: Any, n: int) -> tuple[list, list]:
    """Output sizes and the source/destination scales torch uses for each spatial dim."""
    in_sizes = list(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [int(size)] * n if isinstance(size, int) else [int(s) for s in size]
        if len(sizes) != n:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {in_sizes} and output size of {sizes}. Please "
                "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                "(o1, o2, ...,oK) format."
            )
        scales = [i / o for i, o in zip(in_sizes, sizes)]
        return sizes, scales
    factors = [float(scale_factor)] * n if not isinstance(scale_factor, Sequence) else [
        float(s) for s in scale_factor]  # fmt: skip
    if len(factors) != n:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {in_sizes} and scale_factor of shape {factors}."
        )
    sizes = [int(math.floor(i * f)) for i, f in zip(in_sizes, factors)]
    return sizes, [1.0 / f for f in factors]


def _linear_taps(n_in: int, n_out: int, scale: float, align_corners: bool) -> tuple:
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> list[np.ndarray]:
    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _along(x: Tensor, dim: int, idx: np.ndarray) -> Tensor:
    return _api.index_select(x, dim, idx)


def _weights(w: np.ndarray, dim: int, ndim: int, dtype: Any) -> Tensor:
    shape = [1] * ndim
    shape[dim] = -1
    return _api.tensor(w.reshape(shape), dtype=dtype)


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) with torch's sampling rules.

    Modes: nearest, nearest-exact, linear (3-D input), bilinear / bicubic (4-D), trilinear (5-D),
    area (adaptive average pooling).
    """
    if mode not in _MODES:
        raise NotImplementedError(
            f"Input Error: Only 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', "
            f"'trilinear' and 'area' modes are supported, got {mode!r}"
        )
    n = input.ndim - 2
    if n < 1:
        raise ValueError(f"interpolate expects (N, C, *spatial) input, got shape {input.shape}")
    if _MODES[mode] and _MODES[mode] != n:
        want = {1: "3D", 2: "4D", 3: "5D"}[_MODES[mode]]
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {want} input")
    if align_corners is not None and mode in ("nearest", "nearest-exact", "area"):
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not supported by chainrule")
    sizes, scales = _out_sizes(input, size, scale_factor, n)
    if recompute_scale_factor:
        scales = [i / o for i, o in zip(input.shape[2:], sizes)]
    x = input
    if mode == "area":
        from . import functional as F

        pool = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d}.get(n)
        if pool is None:
            raise NotImplementedError("interpolate(mode='area') supports 3-D and 4-D input")
        return pool(x, sizes if n > 1 else sizes[0])
    for k in range(n):
        dim = 2 + k
        n_in, n_out, scale = x.shape[dim], sizes[k], scales[k]
        if mode in ("nearest", "nearest-exact"):
            dst = np.arange(n_out, dtype=np.float64)
            off = 0.5 if mode == "nearest-exact" else 0.0
            src = np.minimum(np.floor((dst + off) * scale).astype(np.int64), n_in - 1)
            x = _along(x, dim, src)
        elif mode == "bicubic":
            dst = np.arange(n_out, dtype=np.float64)
            if align_corners:
                src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
            else:
                src = (dst + 0.5) * scale - 0.5
            i = np.floor(src).astype(np.int64)
            ws = _cubic_weights(src - i)
            acc = None
            for tap, w in zip(range(-1, 3), ws):
                part = _along(x, dim, np.clip(i + tap, 0, n_in - 1)) * _weights(
                    w, dim, x.ndim, x.dtype
                )
                acc = part if acc is None else acc + part
            x = acc
        else:
            i0, i1, w = _linear_taps(n_in, n_out, scale, bool(align_corners))
            lo, hi = _along(x, dim, i0), _along(x, dim, i1)
            x = lo + (hi - lo) * _weights(w, dim, x.ndim, x.dtype)
    return x


def upsample(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """``interpolate(mode='nearest')``."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """``interpolate(mode='bilinear', align_corners=True)`` (the deprecated function's rule)."""
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r)."""
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W)."""
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, "
            f"got {h} x {w} and {r}"
        )
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


# ---------------------------------------------------------------------------- distances / losses


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """‖x1 − x2 + eps‖_p over the last dimension."""
    return _api.norm(_api.sub(x1, x2) + eps, p=p, dim=-1, keepdim=keepdim)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
    size_average: Any = None, reduce: Any = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """max(0, −target · (input1 − input2) + margin)."""
    return _reduce(_api.clamp(-target * (input1 - input2) + margin, min=0), reduction)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0,
    size_average: Any = None, reduce: Any = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """x where target is 1, max(0, margin − x) where target is −1."""
    zeros = _api.zeros_like(input)
    pos = _api.where(target == 1, input, zeros)
    neg = _api.where(target == -1, _api.clamp(margin - input, min=0), zeros)
    return _reduce(pos + neg, reduction)


def soft_margin_loss(
    input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """log(1 + exp(−target · input))."""
    from . import functional as F

    return _reduce(F.softplus(-target * input), reduction)


def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: Any = None,
    reduce: Any = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Per-sample mean over classes of the binary logistic loss."""
    from . import functional as F

    loss = -(target * F.logsigmoid(input) + (1 - target) * F.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(-1), reduction)


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
    size_average: Any = None, reduce: Any = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """1 − cos(x1, x2) for target 1, max(0, cos(x1, x2) − margin) for target −1."""
    eps = 1e-12
    prod = (input1 * input2).sum(-1)
    mag = _api.sqrt(((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps))
    cos = prod / mag
    zeros = _api.zeros_like(cos)
    pos = _api.where(target == 1, 1 - cos, zeros)
    neg = _api.where(target == -1, _api.clamp(cos - margin, min=0), zeros)
    return _reduce(pos + neg, reduction)


def triplet_margin_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
    eps: float = 1e-6, swap: bool = False, size_average: Any = None, reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """max(d(a, p) − d(a, n) + margin, 0) with d the pairwise p-distance."""
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _api.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(_api.clamp(d_pos - d_neg + margin, min=0), reduction)


def gaussian_nll_loss(
    input: Tensor, target: Tensor, var: Any, full: bool = False, eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """½ (log max(var, eps) + (input − target)² / max(var, eps)) (+ ½ log 2π when ``full``)."""
    if not isinstance(var, Tensor):
        var = _api.full_like(input, float(var))
    if var.ndim == input.ndim - 1 or (var.shape[-1] == 1 and input.shape[-1] != 1):
        var = var if var.ndim == input.ndim else var.unsqueeze(-1)
    if _api.any(var < 0).item():
        raise ValueError("var has negative entry/entries")
    v = _api.clamp(var.detach(), min=eps) + (var - var.detach())  # clamp without cutting grad
    loss = 0.5 * (_api.log(v) + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
    size_average: Any = None, eps: float = 1e-8, reduce: Any = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """exp(input) − target · input (log_input) or input − target · log(input + eps)."""
    if log_input:
        loss = _api.exp(input) - target * input
    else:
        loss = input - target * _api.log(input + eps)
    if full:
        # differentiable in the target as in torch (log t + 1/(2t) where t > 1); the where()
        # keeps log away from t ≤ 1, whose terms are masked to 0
        t = target
        stirling = t * _api.log(_api.where(t > 1, t, 1.0)) - t + 0.5 * _api.log(
            2 * math.pi * _api.where(t > 1, t, 1.0))  # fmt: skip
        loss = loss + _api.where(t > 1, stirling, _api.zeros_like(stirling))
    return _reduce(loss, reduction)


def instance_norm(
    input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
    weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
    momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """Normalise each (sample, channel) over its spatial positions."""
    dims = tuple(range(2, input.ndim))
    if use_input_stats:
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, keepdim=True, unbiased=False)
        if running_mean is not None:
            n = int(np.prod(input.shape[2:]))
            with _no_grad():
                bm = mean.detach().mean(0).reshape(-1)
                bv = input.detach().var(dims, unbiased=True).mean(0) if n > 1 else var.detach()
                running_mean.mul_(1 - momentum).add_(bm, alpha=momentum)
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(bv.reshape(-1), alpha=momentum)
    else:
        shape = (1, -1) + (1,) * len(dims)
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = (input - mean) / _api.sqrt(var + eps)
    shape = (1, -1) + (1,) * len(dims)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _no_grad() -> Any:
    from ..autograd import no_grad

    return no_grad()


def gumbel_softmax(
    logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """Softmax of (logits + Gumbel noise) / tau; ``hard``: one-hot forward, soft gradient."""
    from .._random import rng

    g = -np.log(rng(None).exponential(size=logits.shape)).astype(logits._data.dtype)
    y = _api.softmax((logits + _api.tensor(g)) / tau, dim)
    if not hard:
        return y
    idx = y._data.argmax(axis=dim)
    onehot = np.zeros(y.shape, dtype=y._data.dtype)
    np.put_along_axis(onehot, np.expand_dims(idx, dim), 1.0, axis=dim)
    return _api.tensor(onehot) - y.detach() + y
