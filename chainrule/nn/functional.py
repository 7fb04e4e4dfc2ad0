"""``chainrule.nn.functional`` (``F``): the functional form of every layer, activation and loss.

Each function validates its arguments (shapes, dtypes, values, with errors that name them) and
then makes one call into the fused ops of ``chainrule.ops.nn``; no math lives here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _api
from .._random import Generator, rng
from .._tensor import Tensor, _make
from ..autograd.grad_mode import no_grad
from ..ops.nn import activation as _A
from ..ops.nn import linear as _L
from ..ops.nn import loss as _Lo
from ..ops.nn import misc as _M
from ..ops.nn import norm as _N
from ._functional_attention import multi_head_attention_forward as multi_head_attention_forward  # noqa: E402,E501
from ._functional_compat import cosine_embedding_loss as cosine_embedding_loss  # noqa: E402
from ._functional_compat import gaussian_nll_loss as gaussian_nll_loss  # noqa: E402
from ._functional_compat import gumbel_softmax as gumbel_softmax  # noqa: E402
from ._functional_compat import hinge_embedding_loss as hinge_embedding_loss  # noqa: E402
from ._functional_compat import instance_norm as instance_norm  # noqa: E402

# --- resizing, pixel shuffle, distances, more losses (ported scripts: _functional_compat.py) ---
from ._functional_compat import interpolate as interpolate  # noqa: E402
from ._functional_compat import margin_ranking_loss as margin_ranking_loss  # noqa: E402
from ._functional_compat import multilabel_soft_margin_loss as multilabel_soft_margin_loss  # noqa: E402,E501
from ._functional_compat import pairwise_distance as pairwise_distance  # noqa: E402
from ._functional_compat import pixel_shuffle as pixel_shuffle  # noqa: E402
from ._functional_compat import pixel_unshuffle as pixel_unshuffle  # noqa: E402
from ._functional_compat import poisson_nll_loss as poisson_nll_loss  # noqa: E402
from ._functional_compat import soft_margin_loss as soft_margin_loss  # noqa: E402
from ._functional_compat import triplet_margin_loss as triplet_margin_loss  # noqa: E402
from ._functional_compat import upsample as upsample  # noqa: E402
from ._functional_compat import upsample_bilinear as upsample_bilinear  # noqa: E402
from ._functional_compat import upsample_nearest as upsample_nearest  # noqa: E402

# --- convolution, pooling, padding, attention, recurrent (nn part 2: _functional_conv.py) ---
from ._functional_conv import adaptive_avg_pool1d as adaptive_avg_pool1d  # noqa: E402
from ._functional_conv import adaptive_avg_pool2d as adaptive_avg_pool2d  # noqa: E402
from ._functional_conv import adaptive_max_pool1d as adaptive_max_pool1d  # noqa: E402
from ._functional_conv import adaptive_max_pool1d_with_indices as adaptive_max_pool1d_with_indices  # noqa: E402,E501
from ._functional_conv import adaptive_max_pool2d as adaptive_max_pool2d  # noqa: E402
from ._functional_conv import adaptive_max_pool2d_with_indices as adaptive_max_pool2d_with_indices  # noqa: E402,E501
from ._functional_conv import avg_pool1d as avg_pool1d  # noqa: E402
from ._functional_conv import avg_pool2d as avg_pool2d  # noqa: E402
from ._functional_conv import conv1d as conv1d  # noqa: E402
from ._functional_conv import conv2d as conv2d  # noqa: E402
from ._functional_conv import conv_transpose1d as conv_transpose1d  # noqa: E402
from ._functional_conv import conv_transpose2d as conv_transpose2d  # noqa: E402
from ._functional_conv import fold as fold  # noqa: E402
from ._functional_conv import max_pool1d as max_pool1d  # noqa: E402
from ._functional_conv import max_pool1d_with_indices as max_pool1d_with_indices  # noqa: E402
from ._functional_conv import max_pool2d as max_pool2d  # noqa: E402
from ._functional_conv import max_pool2d_with_indices as max_pool2d_with_indices  # noqa: E402
from ._functional_conv import pad as pad  # noqa: E402
from ._functional_conv import scaled_dot_product_attention as scaled_dot_product_attention  # noqa: E402,E501
from ._functional_conv import unfold as unfold  # noqa: E402

# --- end nn part 2 ---

# ---------------------------------------------------------------------------- helpers


def _shape(t: Any) -> list[int]:
    return list(t.shape)


def _arr(t: Any) -> Any:
    """The ndarray of a tensor (non-differentiable arguments such as class weights)."""
    if t is None:
        return None
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def _check_same_float(name: str, input: Tensor, *others: Tensor | None) -> None:
    """torch's norm kernels take parameters/statistics of the input's dtype only (float32 ones
    are also accepted for a float16/bfloat16 input); no silent promotion."""
    dt = input._data.dtype
    for t in others:
        if t is None or t._data.dtype == dt:
            continue
        if dt.itemsize == 2 and t._data.dtype == np.float32:
            continue
        raise RuntimeError(
            f"{name}: mixed dtype (CPU): all inputs must share same datatype "
            f"(input {input.dtype}, parameter {t.dtype})"
        )


def _check_float(input: Any, name: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            f"{name}(): expected a floating point input, got {input.dtype} "
            f"of shape {tuple(input.shape)}"
        )


def _inplace_or(input: Tensor, inplace: bool, fn: Any) -> Tensor:
    """``fn(input)``, written back into ``input`` when ``inplace`` (torch's ``inplace=True``)."""
    if inplace:
        return input._inplace(fn)
    return fn(input)


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """torch's mapping of the deprecated ``size_average`` / ``reduce`` pair onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction: str, allowed: tuple = ("none", "mean", "sum")) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _same_shape(name: str, input: Tensor, target: Any) -> None:
    ts = tuple(np.shape(_arr(target)))
    if ts != tuple(input.shape):
        raise ValueError(
            f"{name}: target shape {ts} differs from input shape {tuple(input.shape)}; "
            "pass tensors of the same shape (chainrule does not broadcast them silently, torch "
            "only warns)"
        )


def _promote_to_target(input: Tensor, target: Any) -> Tensor:
    """torch computes a regression loss in the promoted dtype: a float32 input with a float64
    target Tensor gives a float64 loss (the input's gradient stays float32)."""
    if isinstance(target, Tensor):
        td = target._data.dtype
        if td.kind == "f" and td.itemsize > input._data.dtype.itemsize:
            return input.to(target.dtype)
    return input


def _as_float_operand(target: Any, like: Tensor) -> Any:
    """A target for a regression loss: a Tensor (kept differentiable) or a same-dtype array."""
    if isinstance(target, Tensor):
        if target._data.dtype != like._data.dtype:
            return target.to(like.dtype)
        return target
    return np.asarray(target, dtype=like._data.dtype)


# ---------------------------------------------------------------------------- linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (weight is (out_features, in_features)), one fused node."""
    _check_float(input, "linear")
    if weight.ndim != 2 and weight.ndim != 1:
        raise RuntimeError(f"linear(): weight must be 1-D or 2-D, got shape {_shape(weight)}")
    if input.ndim == 0:
        raise RuntimeError("linear(): input must have at least 1 dimension, got a 0-d tensor")
    in_w = weight.shape[-1]
    if input.shape[-1] != in_w:
        rows = int(np.prod(input.shape[:-1])) if input.ndim > 1 else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{in_w}x{weight.shape[0] if weight.ndim == 2 else 1}): linear expects input with "
            f"{in_w} features in its last dim, got input of shape {_shape(input)}"
        )
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {input.dtype} and {weight.dtype}"
        )
    if weight.ndim == 1:  # torch allows a vector weight: a dot product, no output dim
        out = _api.matmul(input, weight)
        return out + bias if bias is not None else out
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), (), (1,)):
        raise RuntimeError(
            f"linear(): bias of shape {_shape(bias)} does not match weight of shape "
            f"{_shape(weight)} (expected ({weight.shape[0]},))"
        )
    return _L.linear(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x1ᵀ W x2 + b`` per output feature; weight is (out, in1, in2)."""
    _check_float(input1, "bilinear")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D, got shape {_shape(weight)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(
            f"bilinear(): input1 of shape {_shape(input1)} and input2 of shape {_shape(input2)} "
            f"do not match weight of shape {_shape(weight)} (in1={weight.shape[1]}, "
            f"in2={weight.shape[2]})"
        )
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input1 and input2 must have the same leading dims, got "
            f"{_shape(input1)} and {_shape(input2)}"
        )
    return _L.bilinear(input1, input2, weight, bias)


# ---------------------------------------------------------------------------- activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``; relu'(0) = 0."""
    return _inplace_or(input, inplace, _api.relu)


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``."""
    return relu(input, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)`` (hardtanh with bounds 0 and 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``negative_slope · x``."""
    _check_float(input, "leaky_relu")
    return _inplace_or(
        input, inplace, lambda t: _A.leaky_relu(t, negative_slope=float(negative_slope))
    )


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``α(eˣ − 1)``."""
    _check_float(input, "elu")
    return _inplace_or(input, inplace, lambda t: _A.elu(t, alpha=float(alpha)))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale · elu(x, α)`` with the self-normalising constants."""
    _check_float(input, "selu")
    return _inplace_or(
        input,
        inplace,
        lambda t: _A.elu(t, alpha=_A._SELU_ALPHA, scale=_A._SELU_SCALE),
    )


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, α(e^{x/α} − 1))``."""
    _check_float(input, "celu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _inplace_or(
        input, inplace, lambda t: _A.elu(t, alpha=float(alpha), input_scale=1.0 / float(alpha))
    )


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x · Φ(x)`` (exact, with erf) or its tanh approximation (``approximate='tanh'``)."""
    _check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _A.gelu(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · σ(x)`` (swish)."""
    _check_float(input, "silu")
    return _inplace_or(input, inplace, _A.silu)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · tanh(softplus(x))``."""
    _check_float(input, "mish")
    return _inplace_or(input, inplace, _A.mish)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + e⁻ˣ)``."""
    return _api.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _api.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e^{βx}) / β``, linear where ``βx > threshold``."""
    _check_float(input, "softplus")
    return _A.softplus(input, beta=float(beta), threshold=float(threshold))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    _check_float(input, "softsign")
    return _A.softsign(input)


def logsigmoid(input: Tensor) -> Tensor:
    """``log σ(x)``, stable for large |x|."""
    _check_float(input, "logsigmoid")
    return _A.logsigmoid(input)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``clamp(x, min_val, max_val)`` with zero gradient at and beyond the bounds."""
    _check_float(input, "hardtanh")
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _inplace_or(
        input, inplace, lambda t: _A.hardtanh(t, min_val=float(min_val), max_val=float(max_val))
    )


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · relu6(x + 3) / 6``."""
    _check_float(input, "hardswish")
    return _inplace_or(input, inplace, _A.hardswish)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    _check_float(input, "hardsigmoid")
    return _inplace_or(input, inplace, _A.hardsigmoid)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    _check_float(input, "threshold")
    return _inplace_or(
        input, inplace, lambda t: _A.threshold(t, threshold=float(threshold), value=float(value))
    )


def tanhshrink(input: Tensor) -> Tensor:
    """``x − tanh(x)``."""
    return input - _api.tanh(input)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > λ``, else 0."""
    # the mask is built with tensor ops so that a traced (ONNX-exported) graph recomputes it
    return input * (_api.abs(input) > lambd).to(input.dtype)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x − clamp(x, −λ, λ)``: shrinks toward 0 by λ."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return input - _api.clamp(input, -lambd, lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for x > 0, else ``a · x`` with a learnable ``a`` per channel (dim 1) or shared."""
    _check_float(input, "prelu")
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if n != channels:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers "
                f"= {n} and channel size = {channels}."
            )
        a = weight.reshape((1, n) + (1,) * (input.ndim - 2))
    else:
        a = weight.reshape(())
    return _A.prelu(input, a)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``a · σ(b)`` where ``a, b`` are the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if input.shape[dim] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim} is size {input.shape[dim]}"
        )
    a, b = _api.chunk(input, 2, dim)
    return a * _api.sigmoid(b)


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """``exp(x) / Σ exp(x)`` along ``dim``."""
    return _api.softmax(input, dim, dtype=dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """``x − logsumexp(x)`` along ``dim``."""
    return _api.log_softmax(input, dim, dtype=dtype)


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """``softmax(−x)``."""
    return _api.softmax(-input, dim, dtype=dtype)


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None
) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim``."""
    denom = _api.clamp(_api.norm(input, p, dim, keepdim=True), eps, None)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``Σ (x1 / max(‖x1‖, eps)) · (x2 / max(‖x2‖, eps))`` along ``dim``.

    Each norm is clamped on its own, as torch does (not their product). torch clamps the norms
    in place without autograd, so a clamped norm keeps the unclamped norm's gradient: the same
    here (value max(‖x‖, eps), gradient of ‖x‖).
    """

    def clamped_norm(x: Tensor) -> Tensor:
        n = _api.norm(x, 2, dim, keepdim=True)
        nd = n.detach()
        return n + (_api.clamp(nd, eps, None) - nd)

    return _api.sum((x1 / clamped_norm(x1)) * (x2 / clamped_norm(x2)), dim)


# ---------------------------------------------------------------------------- dropout


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_with_mask_shape(
    input: Tensor, p: float, mask_shape: tuple, inplace: bool, generator: Generator | None
) -> Tensor:
    _check_float(input, "dropout")
    # keep each element (or channel) with probability 1 − p, then scale by 1/(1 − p) so the
    # expected value is unchanged (inverted dropout); p = 1 drops everything.
    keep = rng(generator).random(mask_shape, dtype=np.float32) >= p  # float32: half the memory
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return _inplace_or(input, inplace, lambda t: _M.dropout(t, mask=keep, scale=scale))


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1 − p)``.

    Identity when ``training`` is False or ``p == 0``. ``generator`` (a chainrule extension)
    draws the mask from a given ``Generator`` instead of the default one.
    """
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _dropout_with_mask_shape(input, p, input.shape, inplace, generator)


def _feature_dropout(
    input: Tensor,
    p: float,
    training: bool,
    inplace: bool,
    batched_ndim: int,
    name: str,
    generator: Generator | None,
) -> Tensor:
    _check_p(p)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(
            f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but received a "
            f"{input.ndim}D input of shape {_shape(input)}"
        )
    if not training or p == 0.0:
        return input
    # one draw per (sample, channel): whole feature maps are dropped together
    lead = 2 if input.ndim == batched_ndim else 1
    mask_shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _dropout_with_mask_shape(input, p, mask_shape, inplace, generator)


def dropout1d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Zero whole channels of (N, C, L) / (C, L) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, 3, "dropout1d", generator)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Zero whole channels of (N, C, H, W) / (C, H, W) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, 4, "dropout2d", generator)


def alpha_dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Dropout for SELU networks: dropped units take SELU's negative saturation value and an
    affine correction keeps mean and variance (Klambauer et al., 2017)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    alpha_p = -_A._SELU_ALPHA * _A._SELU_SCALE
    keep = rng(generator).random(input.shape) >= p
    a = 1.0 / math.sqrt((alpha_p * alpha_p * p + 1.0) * (1.0 - p))
    b = -a * alpha_p * p
    drop_val = _make(np.where(keep, 0.0, a * alpha_p + b).astype(input._data.dtype))
    return _M.dropout(input, mask=keep, scale=a) + (
        drop_val + _make(np.where(keep, b, 0.0).astype(input._data.dtype))
    )


# ---------------------------------------------------------------------------- sparse


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` at the integer indices ``input`` (output shape input.shape + (dim,)).

    ``padding_idx``: that row gets no gradient. ``max_norm``: rows looked up are first
    renormalised in place to norm ≤ max_norm (torch's embedding_renorm_). ``sparse`` is accepted
    for compatibility; gradients are dense.
    """
    idx = _arr(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {getattr(input, 'dtype', idx.dtype)} instead "
            "(while checking arguments for embedding)"
        )
    if weight.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got shape {_shape(weight)}")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = int(idx.max()) if idx.max() >= num else int(idx.min())
        raise IndexError(
            f"index out of range in self: embedding index {bad} is outside [0, {num - 1}] "
            f"for {num} embeddings"
        )
    idx = idx.astype(np.intp, copy=False)
    if max_norm is not None:
        with no_grad():
            rows = np.unique(idx)
            w = weight._data
            norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
            over = norms > max_norm
            if over.any():
                scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
                w[rows[over]] *= scale[:, None]
                weight._vc[0] += 1
    return _M.embedding(
        weight, indices=idx, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: output shape ``tensor.shape + (num_classes,)``."""
    idx = _arr(tensor)
    if idx.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size and idx.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if idx.size and idx.max() >= num_classes:
        raise RuntimeError(
            f"Class values must be smaller than num_classes ({num_classes}), got {int(idx.max())}."
        )
    out = np.zeros((*idx.shape, num_classes), np.int64)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return _make(out)


# ---------------------------------------------------------------------------- normalisation


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise (N, C, *) per channel; in training, update the running statistics in place."""
    _check_float(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected input of at least 2 dims (N, C, *), got {_shape(input)}"
        )
    c = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    _check_same_float("batch_norm", input, running_mean, running_var, weight, bias)
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"torch.Size({_shape(input)})"
            )
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm: running_mean and running_var must be given in eval mode")
    if momentum is None:
        # torch's functional form takes a float; the modules turn momentum=None (cumulative
        # average) into 1/num_batches_tracked themselves
        raise TypeError("batch_norm(): argument 'momentum' must be float, not NoneType")
    rm = None if running_mean is None else running_mean._data
    rv = None if running_var is None else running_var._data
    out = _N.batch_norm(
        input,
        weight,
        bias,
        running_mean=rm,
        running_var=rv,
        training=bool(training),
        momentum=float(momentum),
        eps=float(eps),
    )
    if training and running_mean is not None:
        running_mean._vc[0] += 1
        running_var._vc[0] += 1
    return out


def _norm_shape(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift."""
    _check_float(input, "layer_norm")
    ns = _norm_shape(normalized_shape)
    k = len(ns)
    if k == 0 or tuple(input.shape[input.ndim - k :]) != ns or input.ndim < k:
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*, "
            f"{', '.join(str(s) for s in ns)}], but got input of size{_shape(input)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(
                f"layer_norm: {name} of shape {_shape(t)} does not match normalized_shape "
                f"{list(ns)}"
            )
    _check_same_float("layer_norm", input, weight, bias)
    return _N.layer_norm(input, weight, bias, normalized_ndim=k, eps=float(eps))


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise (N, C, *) over groups of C/num_groups channels, then per-channel affine."""
    _check_float(input, "group_norm")
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    c = input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {_shape(input)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {_shape(t)} and input of shape {_shape(input)}"
            )
    _check_same_float("group_norm", input, weight, bias)
    return _N.group_norm(input, weight, bias, num_groups=int(num_groups), eps=float(eps))


def rms_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """``x / sqrt(mean(x²) + eps)`` over the trailing dims, times ``weight``."""
    _check_float(input, "rms_norm")
    ns = _norm_shape(normalized_shape)
    k = len(ns)
    if tuple(input.shape[input.ndim - k :]) != ns:
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*, "
            f"{', '.join(str(s) for s in ns)}], but got input of size{_shape(input)}"
        )
    return _N.rms_norm(input, weight, normalized_ndim=k, eps=eps)


# ---------------------------------------------------------------------------- losses


def _class_weight(weight: Any, c: int, like: Tensor) -> Any:
    if weight is None:
        return None
    w = _arr(weight)
    if w.shape != (c,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {c} classes or no classes but got "
            f"weight tensor of shape: {list(w.shape)}"
        )
    return w.astype(like._data.dtype, copy=False)


_INTP = np.dtype(np.intp)


def _check_class_target(name: str, input: Tensor, tgt: np.ndarray, ignore_index: int) -> None:
    """Class-index targets: shape (N, d1, …) for input (N, C, d1, …), values in [0, C)."""
    if input.ndim == 1:
        expected: tuple = ()
    else:
        expected = (input.shape[0], *input.shape[2:])
    if input.ndim >= 2 and (tgt.ndim == 0 or tgt.shape[0] != input.shape[0]):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({tgt.shape[0] if tgt.ndim else 0}) in {name} (input {_shape(input)}, target "
            f"{list(tgt.shape)})."
        )
    if tuple(tgt.shape) != expected:
        raise RuntimeError(
            f"{name}: expected target size {list(expected)} for input of size {_shape(input)}, "
            f"got {list(tgt.shape)}"
        )
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    if not tgt.size or (tgt.min() >= 0 and tgt.max() < c):
        return  # the common case: every index in range, no masking needed
    live = tgt[tgt != ignore_index]
    if live.size:
        lo, hi = int(live.min()), int(live.max())
        if lo < 0 or hi >= c:
            bad = hi if hi >= c else lo
            raise IndexError(
                f"Target {bad} is out of bounds: {name} got class index {bad} for {c} classes "
                f"(valid 0..{c - 1}, or ignore_index={ignore_index})."
            )


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits ``input`` (N, C, …) / (C,) and ``target``: class indices
    (N, …) or class probabilities (same shape as input), fused with log_softmax; stable for
    large logits. ``weight`` (C,) rescales classes; 'mean' over indices is the weighted mean.
    """
    if (
        weight is None
        and size_average is None
        and reduce is None
        and label_smoothing == 0.0
        and type(input) is Tensor
        and type(target) is Tensor
    ):
        # Hot path of every classifier's training step: (N, C) float logits, (N,) int64
        # indices all in [0, C) (viewed as unsigned, negatives are huge: ONE reduction checks
        # both bounds). Anything else takes the full validation below.
        x = input._data
        tgt = target._data
        if (
            x.ndim == 2
            and tgt.dtype is _INTP
            and x.dtype.kind == "f"
            and tgt.shape == (x.shape[0],)
            and x.shape[0]
            and reduction in ("mean", "sum", "none")
            and np.maximum.reduce(tgt.view(np.uintp)) < x.shape[1]
        ):
            return _Lo.cross_entropy(
                input,
                target=tgt,
                weight=None,
                ignore_index=int(ignore_index),
                targets_checked=True,
                reduction=reduction,
                label_smoothing=0.0,
            )
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "cross_entropy")
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have a class dim, got a 0-d tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    w = _class_weight(weight, c, input)
    tgt = _arr(target)
    if tgt.dtype.kind == "f":
        if tuple(tgt.shape) != tuple(input.shape):
            raise RuntimeError(
                f"cross_entropy: class-probability target of shape {list(tgt.shape)} must have "
                f"the input's shape {_shape(input)}"
            )
        q = _as_float_operand(target, input)
        return _Lo.cross_entropy_probs(
            input, q, weight=w, reduction=reduction, label_smoothing=float(label_smoothing)
        )
    if tgt.dtype.kind not in "iu":
        raise RuntimeError(
            f"cross_entropy: target must hold class indices (int64) or probabilities (float), "
            f"got {tgt.dtype}"
        )
    _check_class_target("cross_entropy", input, tgt, ignore_index)
    return _Lo.cross_entropy(
        input,
        target=tgt.astype(np.intp, copy=False),
        weight=w,
        ignore_index=int(ignore_index),
        reduction=reduction,
        label_smoothing=float(label_smoothing),
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, …) at class ``target``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "nll_loss")
    if input.ndim == 0:
        raise ValueError("nll_loss: input must have a class dim, got a 0-d tensor")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    w = _class_weight(weight, c, input)
    tgt = _arr(target)
    if tgt.dtype.kind not in "iu":
        raise RuntimeError(f"nll_loss: expected class-index target (int64), got {tgt.dtype}")
    _check_class_target("nll_loss", input, tgt, ignore_index)
    return _Lo.nll_loss(
        input,
        target=tgt.astype(np.intp, copy=False),
        weight=w,
        ignore_index=int(ignore_index),
        reduction=reduction,
    )


def _weighted(loss: Tensor, weight: Any, reduction: str, mean_by_weight: bool) -> Tensor:
    """torch's element-weighted regression losses: weight · loss, then reduce."""
    w = weight if isinstance(weight, Tensor) else _make(np.asarray(weight, loss._data.dtype))
    wl = loss * w
    if reduction == "none":
        return wl
    s = _api.sum(wl)
    if reduction == "sum":
        return s
    return s / _api.sum(w) if mean_by_weight else s / wl.numel()


def _regression(
    name: str,
    op: Any,
    input: Tensor,
    target: Any,
    reduction: str,
    weight: Any = None,
    mean_by_weight: bool = True,
    **params: Any,
) -> Tensor:
    _check_reduction(reduction)
    _check_float(input, name)
    _same_shape(name, input, target)
    input = _promote_to_target(input, target)
    t = _as_float_operand(target, input)
    if weight is not None:
        if tuple(np.shape(_arr(weight))) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        return _weighted(
            op(input, t, reduction="none", **params), weight, reduction, mean_by_weight
        )
    return op(input, t, reduction=reduction, **params)


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error ``(x − y)²``; with ``weight``, 'mean' is Σ w·l / Σ w (torch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _regression("mse_loss", _Lo.mse_loss, input, target, reduction, weight)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean absolute error ``|x − y|`` (the MAE); sub-gradient 0 at x = y."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _regression("l1_loss", _Lo.l1_loss, input, target, reduction, weight)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """``0.5 d²/β`` for ``|d| < β``, else ``|d| − 0.5β`` (d = x − y)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _regression(
        "smooth_l1_loss", _Lo.smooth_l1_loss, input, target, reduction, beta=float(beta)
    )


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """``0.5 d²`` for ``|d| ≤ δ``, else ``δ(|d| − 0.5δ)``; with ``weight``, 'mean' is a plain
    mean of w·l (torch)."""
    if delta <= 0:
        raise RuntimeError(
            f"huber_loss does not support non-positive values for delta, got {delta}."
        )
    return _regression(
        "huber_loss",
        _Lo.huber_loss,
        input,
        target,
        reduction,
        weight,
        mean_by_weight=False,
        delta=float(delta),
    )


def _bcast_weight(weight: Any, input: Tensor, name: str) -> Any:
    if weight is None:
        return None
    w = _arr(weight).astype(input._data.dtype, copy=False)
    try:
        np.broadcast_shapes(w.shape, tuple(input.shape))
    except ValueError:
        raise RuntimeError(
            f"{name}: weight of shape {list(w.shape)} cannot be broadcast to the input's shape "
            f"{_shape(input)}"
        ) from None
    return w


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``−w(y log x + (1 − y) log(1 − x))`` on probabilities ``x`` ∈ [0, 1]; logs clamp at −100."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "binary_cross_entropy")
    ts = tuple(np.shape(_arr(target)))
    if ts != tuple(input.shape):
        raise ValueError(
            f"Using a target size (torch.Size({list(ts)})) that is different to the input size "
            f"(torch.Size({_shape(input)})) is deprecated. Please ensure they have the same size."
        )
    x = input._data
    if x.size and not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError(
            "all elements of input should be between 0 and 1 (binary_cross_entropy takes "
            "probabilities; use binary_cross_entropy_with_logits for logits)"
        )
    t = _as_float_operand(target, input)
    w = _bcast_weight(weight, input, "binary_cross_entropy")
    return _Lo.binary_cross_entropy(input, t, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """``σ`` + BCE in one stable node; ``pos_weight`` (broadcast over the last dim) weighs the
    positive term."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "binary_cross_entropy_with_logits")
    ts = tuple(np.shape(_arr(target)))
    if ts != tuple(input.shape):
        raise ValueError(
            f"Target size (torch.Size({list(ts)})) must be the same as input size "
            f"(torch.Size({_shape(input)}))"
        )
    input = _promote_to_target(input, target)
    t = _as_float_operand(target, input)
    w = _bcast_weight(weight, input, "binary_cross_entropy_with_logits")
    pw = _bcast_weight(pos_weight, input, "binary_cross_entropy_with_logits (pos_weight)")
    return _Lo.binary_cross_entropy_with_logits(
        input, t, weight=w, pos_weight=pw, reduction=reduction
    )


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL divergence ``y (log y − x)`` with ``x`` log-probabilities (``log_target``: y given as
    log-probabilities). Use ``reduction='batchmean'`` for the true KL value."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning,
            stacklevel=2,
        )
    _check_float(input, "kl_div")
    _same_shape("kl_div", input, target)
    input = _promote_to_target(input, target)
    t = _as_float_operand(target, input)
    return _Lo.kl_div(input, t, reduction=reduction, log_target=bool(log_target))


# ---------------------------------------------------------------------------- conv / pooling /
# recurrent / attention functions live below (added by their own change).
