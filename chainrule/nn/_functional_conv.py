"""``F.*`` for convolutions, pooling, padding, attention: validation, then one fused op call.

Re-exported by ``chainrule.nn.functional`` (see its "convolution, pooling, attention" section).
Errors follow torch's texts and name the shapes at fault; they are raised before any work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._random import rng
from .._tensor import Tensor, _make, as_array
from ..ops.nn import attention as _att
from ..ops.nn import conv as _conv
from ..ops.nn import pooling as _pool
from ..ops.shape import pad as _pad_constant

__all__ = [
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "pad",
    "scaled_dot_product_attention",
    "unfold",
    "fold",
]


def _tuple(v: Any, n: int, name: str = "argument") -> tuple[int, ...]:
    if isinstance(v, int | np.integer):
        return (int(v),) * n
    v = tuple(int(a) for a in v)
    if len(v) == 1 and n > 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"expected {name} to be a single integer or a list of {n} integers")
    return v


def _shape(t: Any) -> list[int]:
    return list(t.shape)


def _check_same_dtype(x: Tensor, w: Tensor, b: Tensor | None, name: str) -> None:
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        other = w.dtype if x.dtype != w.dtype else b.dtype  # type: ignore[union-attr]
        raise RuntimeError(
            f"{name}: input type ({x.dtype}) and weight/bias type ({other}) should be the same"
        )


def _conv_pads(padding: Any, kernel: tuple, dilation: tuple, stride: tuple, name: str) -> tuple:
    """((before, after) per spatial dim) for an int/tuple/'same'/'valid' padding argument."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(n))
        if padding == "same":
            if any(s != 1 for s in stride):
                # torch's functional form raises RuntimeError (the module's constructor: ValueError)
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise RuntimeError(
            f"Invalid padding string {padding!r}, should be one of ('valid', 'same')"
        )
    p = _tuple(padding, n, "padding")
    if any(v < 0 for v in p):
        raise RuntimeError(f"{name}: negative padding is not supported, got {p}")
    return tuple((v, v) for v in p)


def _conv_checks(x, weight, bias, stride, dilation, groups, pads, nd, name):
    spatial = "3D (unbatched) or 4D (batched)" if nd == 2 else "2D (unbatched) or 3D (batched)"
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {spatial} input to {name}, but got input of size: {_shape(x)}"
        )
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"{name}: expected weight to be {nd + 2}-dimensional, got weight of size "
            f"{_shape(weight)}"
        )
    if groups < 1:
        raise RuntimeError("non-positive groups is not supported")
    if any(s < 1 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 1 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    batched = x.dim() == nd + 2
    c = x.shape[1] if batched else x.shape[0]
    full = _shape(x) if batched else [1, *_shape(x)]
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {_shape(weight)} instead"
        )
    if c != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_shape(weight)}, expected input{full} to "
            f"have {weight.shape[1] * groups} channels, but got {c} channels instead"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(
            f"Given weight of size {_shape(weight)}, expected bias to be 1-dimensional with "
            f"{weight.shape[0]} elements, but got bias of size {_shape(bias)} instead"
        )
    sizes = full[2:]
    padded = [s + a + b for s, (a, b) in zip(sizes, pads)]
    eff = [d * (k - 1) + 1 for k, d in zip(weight.shape[2:], dilation)]
    if any(p < e for p, e in zip(padded, eff)):
        ps = " x ".join(str(p) for p in padded)
        ks = " x ".join(str(e) for e in eff)
        raise RuntimeError(
            f"Calculated padded input size per channel: ({ps}). Kernel size: ({ks}). "
            "Kernel size can't be greater than actual input size"
        )
    _check_same_dtype(x, weight, bias, name)
    return batched


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd: int) -> Tensor:
    """conv1d/conv2d: normalise and check the arguments, then one call into the fused op."""
    name = f"conv{nd}d"
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    pads = _conv_pads(padding, tuple(weight.shape[2:]), dilation, stride, name)
    batched = _conv_checks(input, weight, bias, stride, dilation, groups, pads, nd, name)
    x = input if batched else input.unsqueeze(0)
    if nd == 2:
        y = _conv.conv2d(
            x,
            weight,
            bias,
            stride=stride,
            pads=(*pads[0], *pads[1]),
            dilation=dilation,
            groups=groups,
        )
    else:
        y = _conv.conv1d(
            x, weight, bias, stride=stride[0], pads=pads[0], dilation=dilation[0], groups=groups
        )
    return y if batched else y.squeeze(0)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution over (N, C, H, W) or unbatched (C, H, W) input (torch's ``F.conv2d``)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution over (N, C, L) or unbatched (C, L) input (torch's ``F.conv1d``)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (``F.conv_transpose2d``); weight is (Cin, Cout/G, kh, kw)."""
    stride = _tuple(stride, 2, "stride")
    padding = _tuple(padding, 2, "padding")
    output_padding = _tuple(output_padding, 2, "output_padding")
    dilation = _tuple(dilation, 2, "dilation")
    if input.dim() not in (3, 4):
        raise RuntimeError(
            "Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input "
            f"of size: {_shape(input)}"
        )
    batched = input.dim() == 4
    c = input.shape[1] if batched else input.shape[0]
    if weight.dim() != 4 or c != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_shape(weight)}, expected input"
            f"{_shape(input)} to have {weight.shape[0]} channels, but got {c} channels instead"
        )
    if groups < 1 or weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {_shape(weight)} instead"
        )
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    _check_same_dtype(input, weight, bias, "conv_transpose2d")
    x = input if batched else input.unsqueeze(0)
    h, w = x.shape[2:]
    kh, kw = weight.shape[2:]
    ho = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    wo = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    if ho < 1 or wo < 1:
        raise RuntimeError(
            f"Given input size per channel: ({h} x {w}). Calculated output size per channel: "
            f"({ho} x {wo}). Output size is too small"
        )
    y = _conv.conv_transpose2d(
        x,
        weight,
        bias,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
    )
    return y if batched else y.squeeze(0)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 1-D convolution, run as a 2-D one of height 1."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            "Expected 2D (unbatched) or 3D (batched) input to conv_transpose1d, but got input "
            f"of size: {_shape(input)}"
        )
    y = conv_transpose2d(
        input.unsqueeze(-2),
        weight.unsqueeze(-2),
        bias,
        (1, _tuple(stride, 1)[0]),
        (0, _tuple(padding, 1)[0]),
        (0, _tuple(output_padding, 1)[0]),
        groups,
        (1, _tuple(dilation, 1)[0]),
    )
    return y.squeeze(-2)


# ----------------------------------------------------------------------------------- pooling


def _pool_checks(x, kernel, stride, padding, dilation, ceil_mode, nd, name):
    if x.dim() not in (nd + 1, nd + 2):
        spatial = "3D or 4D" if nd == 2 else "2D or 3D"
        raise RuntimeError(
            f"{name}: Expected {spatial} (batch mode) tensor for input, but got: {_shape(x)}"
        )
    if any(k < 1 for k in kernel):
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got {kernel}")
    if any(s < 1 for s in stride):
        raise RuntimeError(f"{name}: stride must be greater than zero, but got {stride}")
    if any(d < 1 for d in dilation):
        raise RuntimeError(f"{name}: dilation must be greater than zero, but got {dilation}")
    for p, k, d in zip(padding, kernel, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
    sizes = list(x.shape[-nd:])
    outs = [
        _pool.pool_out_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation)
    ]
    if any(o < 1 for o in outs):
        lead = x.shape[-nd - 1]
        given = "x".join(str(v) for v in [lead, *sizes])
        calc = "x".join(str(v) for v in [lead, *outs])
        raise RuntimeError(
            f"Given input size: ({given}). Calculated output size: ({calc}). "
            "Output size is too small"
        )


def _as_4d(x: Tensor, nd: int) -> tuple[Tensor, tuple]:
    """View (…, [H,] W) input as NCHW for the 2-D kernels; returns the shape to restore."""
    shape = tuple(x.shape)
    if nd == 1:
        x = x.reshape(-1, 1, 1, shape[-1]) if x.dim() == 2 else x.unsqueeze(-2)
    elif x.dim() == 3:
        x = x.unsqueeze(0)
    return x, shape


def _from_4d(y: Tensor, shape: tuple, nd: int) -> Tensor:
    if nd == 1:
        return y.reshape(*shape[:-1], y.shape[-1])
    return y if len(shape) == 4 else y.squeeze(0)


def _pool_args(kernel_size: Any, stride: Any, padding: Any, nd: int) -> tuple:
    """Pooling's (kernel, stride, padding) as nd-tuples; a missing stride means the kernel's."""
    kernel = _tuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _tuple(stride, nd)
    return kernel, stride, _tuple(padding, nd, "padding")


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, nd, name, with_indices=True):
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd)
    dilation = _tuple(dilation, nd, "dilation")
    _pool_checks(x, kernel, stride, padding, dilation, ceil_mode, nd, name)
    x4, shape = _as_4d(x, nd)
    if nd == 1:
        kernel, stride, padding, dilation = (
            (1, kernel[0]),
            (1, stride[0]),
            (0, padding[0]),
            (1, dilation[0]),
        )
    outs = _pool.max_pool2d(
        x4,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        with_indices=with_indices,
    )
    if not with_indices:
        return _from_4d(outs[0], shape, nd), None
    return _from_4d(outs[0], shape, nd), _from_4d(outs[1], shape, nd)


def max_pool2d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,  # torch's default; indices are returned regardless
) -> tuple[Tensor, Tensor]:
    """Max pooling over (N, C, H, W) returning (values, indices into each H·W plane)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, 2, "max_pool2d")


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling (torch's ``F.max_pool2d``); ``stride`` defaults to ``kernel_size``."""
    y, idx = _max_pool(
        input, kernel_size, stride, padding, dilation, ceil_mode, 2, "max_pool2d", return_indices
    )
    return (y, idx) if return_indices else y


def max_pool1d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,  # torch's default; indices are returned regardless
) -> tuple[Tensor, Tensor]:
    """Max pooling over (N, C, L) returning (values, indices into L)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, 1, "max_pool1d")


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling (torch's ``F.max_pool1d``)."""
    y, idx = _max_pool(
        input, kernel_size, stride, padding, dilation, ceil_mode, 1, "max_pool1d", return_indices
    )
    return (y, idx) if return_indices else y


def _avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor, nd, name):
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd)
    if divisor is not None and divisor == 0:
        raise RuntimeError("divisor must be not zero")
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation=1"
            )
    _pool_checks(x, kernel, stride, padding, (1,) * nd, ceil_mode, nd, name)
    x4, shape = _as_4d(x, nd)
    if nd == 1:
        kernel, stride, padding = (1, kernel[0]), (1, stride[0]), (0, padding[0])
    y = _pool.avg_pool2d(
        x4,
        kernel=kernel,
        stride=stride,
        padding=padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor,
    )
    return _from_4d(y, shape, nd)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling (torch's ``F.avg_pool2d``)."""
    return _avg_pool(
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        2,
        "avg_pool2d",
    )


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling (torch's ``F.avg_pool1d``)."""
    return _avg_pool(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d"
    )


def _adaptive_size(x: Tensor, output_size: Any, nd: int, name: str) -> tuple[int, ...]:
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {_shape(x)}")
    if any(s == 0 for s in x.shape[1:]):
        raise RuntimeError(
            f"{name}(): Expected input to have non-zero size for non-batch dimensions, "
            f"but input has sizes {_shape(x)} with dimension {list(x.shape).index(0)} being empty"
        )
    if isinstance(output_size, int | np.integer) or output_size is None:
        output_size = (output_size,) * nd
    out = tuple(
        int(o) if o is not None else int(x.shape[-nd + i]) for i, o in enumerate(output_size)
    )
    if len(out) != nd or any(o < 1 for o in out):
        raise RuntimeError(f"{name}: output_size must be {nd} positive integers, got {output_size}")
    return out


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive average pooling to ``output_size`` (None keeps that input size)."""
    out = _adaptive_size(input, output_size, 2, "adaptive_avg_pool2d")
    return _pool.adaptive_avg_pool2d(input, output_size=out)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive average pooling over the last dim."""
    out = _adaptive_size(input, output_size, 1, "adaptive_avg_pool1d")
    y = _pool.adaptive_avg_pool2d(input.unsqueeze(-2), output_size=(1, out[0]))
    return y.squeeze(-2)


def adaptive_max_pool2d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """Adaptive max pooling returning (values, indices into each H·W plane)."""
    out = _adaptive_size(input, output_size, 2, "adaptive_max_pool2d")
    x4, shape = _as_4d(input, 2)
    y, idx = _pool.adaptive_max_pool2d(x4, output_size=out)
    return _from_4d(y, shape, 2), _from_4d(idx, shape, 2)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling (torch's ``F.adaptive_max_pool2d``)."""
    y, idx = adaptive_max_pool2d_with_indices(input, output_size)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """Adaptive max pooling over the last dim, with indices."""
    out = _adaptive_size(input, output_size, 1, "adaptive_max_pool1d")
    x4, shape = _as_4d(input, 1)
    y, idx = _pool.adaptive_max_pool2d(x4, output_size=(1, out[0]))
    return _from_4d(y, shape, 1), _from_4d(idx, shape, 1)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling over the last dim (torch's ``F.adaptive_max_pool1d``)."""
    y, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (y, idx) if return_indices else y


# ----------------------------------------------------------------------------------- padding


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) pairs from the last dim.

    Modes: 'constant' (negative widths crop), 'reflect', 'replicate', 'circular'.
    """
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    npairs = len(pad) // 2
    if npairs > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(npairs)][::-1]  # first → last dim
    if mode == "constant":
        widths = [(0, 0)] * (input.dim() - npairs) + pairs
        return _pad_constant(input, widths=tuple(widths), value=0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(
            f"Unsupported padding mode: {mode}; expected one of constant, reflect, replicate, "
            "circular"
        )
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if npairs > 3 or input.dim() < npairs + 1:
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now; got "
            f"{npairs} padded dims for input of size {_shape(input)}"
        )
    sizes = input.shape[-npairs:]
    for (lo, hi), n in zip(pairs, sizes):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({lo}, {hi}) at dimension of input {_shape(input)}"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError(
                "Padding value causes wrapping around more than once: padding "
                f"({lo}, {hi}) for a dimension of size {n} in input {_shape(input)}"
            )
        if min(lo, hi) < 0:
            raise RuntimeError(f"{mode} padding: negative padding ({lo}, {hi}) is not supported")
    return _conv.pad_nd(input, widths=tuple(pairs), mode=mode)


# --------------------------------------------------------------------------------- attention


def _dropout_keep(shape: tuple, p: float, dtype: np.dtype) -> np.ndarray:
    """Dropout mask scaled by 1/(1−p), drawn from chainrule's default generator."""
    keep = rng(None).random(shape) >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p)) if p < 1.0 else np.zeros(shape, dtype)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q·Kᵀ·scale + mask)·V in one fused node (torch's ``F.scaled_dot_product_attention``).

    A bool ``attn_mask`` marks the positions that *may* be attended (True); a float mask is
    added to the scores. ``is_causal`` applies a lower-triangular mask. Rows with every key
    masked give zeros, as torch does.
    """
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "scaled_dot_product_attention: query, key and value must be at least 2-D, got "
            f"{_shape(query)}, {_shape(key)}, {_shape(value)}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            "scaled_dot_product_attention: shapes do not match: query "
            f"{_shape(query)}, key {_shape(key)}, value {_shape(value)} (need query[-1] == "
            "key[-1] and key[-2] == value[-2])"
        )
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead."
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk:
            raise RuntimeError(f"enable_gqa: {hq} query heads not divisible by {hk} key heads")
        idx = np.arange(hq) // (hq // hk)
        key = key.index_select(-3, idx)
        value = value.index_select(-3, idx)
    el, es = query.shape[-2], key.shape[-2]
    mask: Any = attn_mask
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                "is_causal=True"
            )
        mask = np.tril(np.ones((el, es), dtype=bool))
    elif attn_mask is not None:
        mshape = tuple(attn_mask.shape)
        try:
            np.broadcast_shapes(mshape, (*query.shape[:-2], el, es))
        except ValueError:
            raise RuntimeError(
                f"scaled_dot_product_attention: attn_mask of shape {list(mshape)} cannot be "
                f"broadcast to the attention scores' shape {[*query.shape[:-2], el, es]}"
            ) from None
        if not (isinstance(attn_mask, Tensor) and attn_mask.requires_grad):
            mask = as_array(attn_mask)
            if mask.dtype != np.bool_ and mask.dtype != query._data.dtype:
                mask = mask.astype(query._data.dtype)
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    keep = None
    if dropout_p > 0.0:
        out_shape = np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]))
        keep = _dropout_keep((*out_shape, el, es), dropout_p, query._data.dtype)
    return _att.sdpa(query, key, value, mask, scale=s, keep=keep)


# ------------------------------------------------------------------------------ fold / unfold


def unfold(
    input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Sliding local blocks (im2col): (N, C, H, W) → (N, C·kh·kw, L), as torch's ``F.unfold``.

    Built as a conv2d with a fixed one-hot weight (one output channel per (c, i, j)), so it
    reuses the fused kernel and its gradient.
    """
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)"
        )
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    kh, kw = _tuple(kernel_size, 2)
    c = x.shape[1]
    eye = np.eye(c * kh * kw, dtype=x._data.dtype).reshape(c * kh * kw, c, kh, kw)
    y = conv2d(x, _make(eye), None, stride, padding, dilation)
    y = y.reshape(y.shape[0], y.shape[1], -1)
    return y if batched else y.squeeze(0)


def fold(
    input: Tensor,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sum sliding blocks back into an image (col2im), the adjoint of ``unfold``.

    Built as a conv_transpose2d with the same one-hot weight as ``unfold``.
    """
    if input.dim() not in (2, 3):
        raise RuntimeError(
            "Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
            f"(got {input.dim()}D)"
        )
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    kh, kw = _tuple(kernel_size, 2)
    oh, ow = _tuple(output_size, 2)
    sh, sw = _tuple(stride, 2)
    ph, pw = _tuple(padding, 2)
    dh, dw = _tuple(dilation, 2)
    nh = (oh + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    nw = (ow + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    ck = x.shape[1]
    if ck % (kh * kw) or nh * nw != x.shape[2]:
        raise RuntimeError(
            f"fold: expected input of size (N, C*{kh}*{kw}, {nh * nw}) for output_size "
            f"{(oh, ow)}, got {_shape(input)}"
        )
    c = ck // (kh * kw)
    eye = np.eye(ck, dtype=x._data.dtype).reshape(ck, c, kh, kw)
    cols = x.reshape(x.shape[0], ck, nh, nw)
    full_h = (nh - 1) * sh - 2 * ph + dh * (kh - 1) + 1
    full_w = (nw - 1) * sw - 2 * pw + dw * (kw - 1) + 1
    y = (
        conv_transpose2d(
            cols, _make(eye), None, (sh, sw), (ph, pw), (oh - full_h, ow - full_w), 1, (dh, dw)
        )
        if (oh - full_h) < max(sh, dh) and (ow - full_w) < max(sw, dw)
        else None
    )
    if y is None:
        raise RuntimeError(f"fold: output_size {(oh, ow)} is inconsistent with the blocks")
    return y if batched else y.squeeze(0)
