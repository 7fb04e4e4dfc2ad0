"""Fused pooling: max (saved argmax), average, adaptive average/max; 2-D kernels, 1-D as H=1.

Like the convolutions these work channels-last internally: a (N, C, H, W) array is viewed as
(N, H, W, C), which is free for the channels-last views that conv2d returns. The window view
(N, Ho, Wo, kh, kw, C) is read once; max pooling keeps the flat argmax per output so backward
is ``kh × kw`` strided adds of ``ȳ · [argmax == k]``, never a search.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._registry import op

__all__ = [
    "max_pool2d",
    "relu_max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "pool_out_size",
]


def pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a pooling window over ``n`` positions (torch's formula, incl. ceil_mode)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    # torch: the last window must start inside the input or the left padding.
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _padded_nhwc(x, kernel, stride, padding, dilation, out_hw, fill):
    """(N, Hp, Wp, C) copy of x padded with ``fill``, big enough for every (ceil-mode) window."""
    n, c, h, w = x.shape
    ph, pw = padding
    hp = max(h + 2 * ph, (out_hw[0] - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1)
    wp = max(w + 2 * pw, (out_hw[1] - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1)
    xt = x.transpose(0, 2, 3, 1)
    if hp == h and wp == w:
        return xt
    xp = np.full((n, hp, wp, c), fill, dtype=x.dtype)
    xp[:, ph : ph + h, pw : pw + w] = xt
    return xp


def _windows(xp, kernel, stride, dilation, out_hw, writeable=False):
    """View (N, Ho, Wo, kh, kw, C) of the pooling windows of NHWC ``xp`` (read-only unless
    asked: overlapping windows alias the same memory)."""
    s0, s1, s2, s3 = xp.strides
    return as_strided(
        xp,
        (xp.shape[0], out_hw[0], out_hw[1], kernel[0], kernel[1], xp.shape[3]),
        (s0, stride[0] * s1, stride[1] * s2, dilation[0] * s1, dilation[1] * s2, s3),
        writeable=writeable,
    )


def _scatter_windows(buf, parts, kernel, stride, dilation, out_hw):
    """buf[window (i, j)] += parts(i, j) for every kernel offset (the col2im of pooling)."""
    ho, wo = out_hw
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            hs = i * dilation[0]
            ws = j * dilation[1]
            buf[
                :,
                hs : hs + stride[0] * (ho - 1) + 1 : stride[0],
                ws : ws + stride[1] * (wo - 1) + 1 : stride[1],
            ] += parts(i, j)


@op(
    "max_pool2d",
    formula="x̄ = ȳ routed to each window's argmax",
    multi=True,
    onnx="MaxPool",
    backward_name="MaxPool2DWithIndicesBackward0",
)
def max_pool2d(
    x,
    kernel=(2, 2),
    stride=(2, 2),
    padding=(0, 0),
    dilation=(1, 1),
    ceil_mode=False,
    with_indices=True,
):
    """Max pooling of NCHW ``x``; returns (values, flat indices into H·W) like torch, or
    (values,) when ``with_indices`` is False (the index arithmetic is skipped).

    Ties go to the first maximum in window order; in a window holding NaN the last NaN wins
    (torch's kernel updates on ``val > max || isnan(val)``). The max is a running
    ``np.maximum`` over the kh·kw strided window views (no window copy); the argmax counts the
    leading window positions that differ from the max (one compare, one ``&``, one add of
    1-byte arrays per position).
    """
    n, c, h, w = x.shape
    kh, kw = kernel
    k_all = kh * kw
    ho = pool_out_size(h, kh, stride[0], padding[0], dilation[0], ceil_mode)
    wo = pool_out_size(w, kw, stride[1], padding[1], dilation[1], ceil_mode)
    out_hw = (ho, wo)
    xp = _padded_nhwc(x, kernel, stride, padding, dilation, out_hw, -np.inf)
    win = _windows(xp, kernel, stride, dilation, out_hw)
    views = [win[:, :, :, i, j] for i in range(kh) for j in range(kw)]
    y = np.empty((n, ho, wo, c), dtype=x.dtype)
    idx_dtype = np.uint8 if k_all < 256 else np.int32
    arg = np.empty(y.shape, dtype=idx_dtype)

    def forward(lo: int, hi: int) -> None:
        vs = [v[lo:hi] for v in views]
        yy, aa = y[lo:hi], arg[lo:hi]
        if k_all == 1:
            np.copyto(yy, vs[0])
        else:
            np.maximum(vs[0], vs[1], out=yy)
            for v in vs[2:]:
                np.maximum(yy, v, out=yy)
        # arg = Σₖ Πⱼ≤ₖ [vⱼ ≠ y] over k < kh·kw − 1: the index of the first maximum (a masked
        # copy per position instead branches on every element of a random mask: ~30x slower)
        ne = np.not_equal(vs[0], yy)
        # bool and uint8 have the same bytes: copying/adding the view avoids a casting loop
        inc = ne.view(np.uint8) if idx_dtype is np.uint8 else ne
        np.copyto(aa, inc)
        step = np.empty_like(ne)
        for v in vs[1:-1]:
            np.not_equal(v, yy, out=step)
            ne &= step
            aa += inc

    forward(0, n)
    if y.dtype.kind == "f" and np.isnan(y).any():
        for k, v in enumerate(views):  # the last NaN of a window wins
            nan_k = np.isnan(v)
            arg[nan_k] = k
    xshape = x.shape
    padded = xp.shape
    overlap = stride[0] < dilation[0] * (kh - 1) + 1 or stride[1] < dilation[1] * (kw - 1) + 1

    # windows side by side covering the whole (unpadded) input: every ∂x element is written once
    tiles = (
        tuple(stride) == (kh, kw)
        and tuple(dilation) == (1, 1)
        and padded[1:3] == (ho * kh, wo * kw)
    )

    def vjp(gs, needs):
        g = (gs[0] if isinstance(gs, tuple) else gs).transpose(0, 2, 3, 1)
        if not overlap and not g.flags.c_contiguous:
            # e.g. an NCHW gradient from a Flatten: one transposing copy (46 µs for 64×64×7×7)
            # instead of kh·kw multiplies each gathering across channels (+150 µs)
            g = np.ascontiguousarray(g)
        dxp = (np.empty if tiles else np.zeros)(padded, dtype=g.dtype)
        if not overlap:
            # windows are disjoint: write ȳ·[arg == k] straight into each window offset
            dwin = _windows(dxp, kernel, stride, dilation, out_hw, writeable=True)

            def backward(lo: int, hi: int) -> None:
                gg, aa, dw = g[lo:hi], arg[lo:hi], dwin[lo:hi]
                for i in range(kh):
                    for j in range(kw):
                        np.multiply(gg, aa == i * kw + j, out=dw[:, :, :, i, j])

            backward(0, xshape[0])
        else:
            _scatter_windows(
                dxp,
                lambda i, j: np.where(arg == i * kw + j, g, 0.0),
                kernel,
                stride,
                dilation,
                out_hw,
            )
        ph, pw = padding
        gx = dxp[:, ph : ph + xshape[2], pw : pw + xshape[3]].transpose(0, 3, 1, 2)
        return (gx,)

    y = y.transpose(0, 3, 1, 2)
    if not with_indices:
        return (y,), vjp
    # torch's indices: position in the unpadded input plane, h * W + w.
    ki, kj = np.divmod(arg.astype(np.int64), kw)
    hh = (np.arange(ho) * stride[0] - padding[0])[None, :, None, None] + ki * dilation[0]
    ww = (np.arange(wo) * stride[1] - padding[1])[None, None, :, None] + kj * dilation[1]
    indices = (hh * w + ww).transpose(0, 3, 1, 2)
    return (y, indices), vjp


@op(
    "relu_max_pool2d",
    formula="x̄ = (ȳ · [y > 0]) routed to each window's argmax",
    backward_name="MaxPool2DWithIndicesBackward0",
)
def relu_max_pool2d(
    x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False
):
    """``max_pool2d(relu(x))`` as one node, computed as ``relu(max_pool2d(x))``.

    ReLU is monotone, so the two orders give the same values (NaN included), and the same
    gradient: where a window's max is positive both route ȳ to the same first maximum, where it
    is not (or NaN) both give 0. The ReLU then runs on the pooled array (kh·kw times smaller)
    and its mask is applied to ȳ before routing, instead of a ReLU forward and backward over
    the full-size activation. The argmax may differ from the unfused one in windows whose
    maximum is ≤ 0 (their gradient is 0 either way), so this never returns indices.
    """
    (y,), pool_vjp = max_pool2d.raw(x, kernel, stride, padding, dilation, ceil_mode, False)
    np.maximum(y, 0.0, out=y)  # y is this op's own array (an NCHW view of NHWC memory)

    yn = y.transpose(0, 2, 3, 1)  # channels-last, as the pooling backward reads it

    def vjp(g, needs):
        # written channels-last whatever g's layout (an NCHW ȳ from a Flatten is transposed
        # in this one pass instead of a copy in the pooling backward)
        gp = np.empty(yn.shape, dtype=g.dtype)
        np.multiply(g.transpose(0, 2, 3, 1), yn > 0, out=gp)
        return pool_vjp((gp.transpose(0, 3, 1, 2),), needs)

    return y, vjp


def _avg_divisor(n, k, s, p, out, count_include_pad):
    """Per-output divisor along one dim, following torch's avg_pool2d kernel."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    size = end - start
    if count_include_pad:
        return size
    return np.minimum(end, n) - np.maximum(start, 0)


@op(
    "avg_pool2d",
    formula="x̄ = ȳ / divisor spread over each window",
    onnx="AveragePool",
    backward_name="AvgPool2DBackward0",
)
def avg_pool2d(
    x,
    kernel=(2, 2),
    stride=(2, 2),
    padding=(0, 0),
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Average pooling of NCHW ``x`` with torch's divisor rules (padding, ceil_mode, override)."""
    n, c, h, w = x.shape
    kh, kw = kernel
    ho = pool_out_size(h, kh, stride[0], padding[0], 1, ceil_mode)
    wo = pool_out_size(w, kw, stride[1], padding[1], 1, ceil_mode)
    out_hw = (ho, wo)
    xp = _padded_nhwc(x, kernel, stride, padding, (1, 1), out_hw, 0.0)
    win = _windows(xp, kernel, stride, (1, 1), out_hw)
    if divisor_override:
        div = np.full((ho, wo), float(divisor_override))
    else:
        dh = _avg_divisor(h, kh, stride[0], padding[0], ho, count_include_pad)
        dw = _avg_divisor(w, kw, stride[1], padding[1], wo, count_include_pad)
        div = np.outer(dh, dw).astype(np.float64)
    inv = (1.0 / div).astype(x.dtype)[None, :, :, None]
    # running sum over the kh·kw window views: no window copy, no reduction over tiny axes
    y = np.array(win[:, :, :, 0, 0])
    for i in range(kh):
        for j in range(kw):
            if i or j:
                y += win[:, :, :, i, j]
    y *= inv
    xshape = x.shape
    padded = xp.shape

    def vjp(g, needs):
        gs = g.transpose(0, 2, 3, 1) * inv
        dxp = np.zeros(padded, dtype=g.dtype)
        _scatter_windows(dxp, lambda i, j: gs, kernel, stride, (1, 1), out_hw)
        ph, pw = padding
        return (dxp[:, ph : ph + xshape[2], pw : pw + xshape[3]].transpose(0, 3, 1, 2),)

    return y.transpose(0, 3, 1, 2), vjp


def _adaptive_matrix(n: int, out: int, dtype) -> np.ndarray:
    """(out, n) averaging matrix: row i averages x[floor(i·n/out) : ceil((i+1)·n/out)]."""
    a = np.zeros((out, n), dtype=dtype)
    for i in range(out):
        s = (i * n) // out
        e = -(-((i + 1) * n) // out)
        a[i, s:e] = 1.0 / (e - s)
    return a


@op(
    "adaptive_avg_pool2d",
    formula="x̄ = Aₕᵀ · ȳ · A_w",
    onnx="GlobalAveragePool",
    backward_name="AdaptiveAvgPool2DBackward0",
)
def adaptive_avg_pool2d(x, output_size=(1, 1)):
    """Adaptive average pooling of (…, H, W) as two small averaging matrices: y = Aₕ·x·A_wᵀ."""
    h, w = x.shape[-2:]
    ah = _adaptive_matrix(h, output_size[0], x.dtype)
    aw = _adaptive_matrix(w, output_size[1], x.dtype)
    if output_size == (1, 1):
        y = x.mean(axis=(-2, -1), keepdims=True)
    else:
        y = np.matmul(np.matmul(ah, x), aw.T)

    def vjp(g, needs):
        return (np.matmul(np.matmul(ah.T, g), aw),)

    return y, vjp


@op(
    "adaptive_max_pool2d",
    formula="x̄ = ȳ routed to each cell's argmax",
    multi=True,
    onnx="MaxPool",
    backward_name="AdaptiveMaxPool2DBackward0",
)
def adaptive_max_pool2d(x, output_size=(1, 1)):
    """Adaptive max pooling of (N, C, H, W); returns (values, flat indices into H·W)."""
    n, c, h, w = x.shape
    oh, ow = output_size
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            cell = x[:, :, hs:he, ws:we].reshape(n, c, -1)
            a = np.argmax(cell, axis=2)
            y[:, :, i, j] = np.take_along_axis(cell, a[:, :, None], axis=2)[:, :, 0]
            idx[:, :, i, j] = (hs + a // (we - ws)) * w + ws + a % (we - ws)

    def vjp(gs, needs):
        gx = np.zeros((n, c, h * w), dtype=gs[0].dtype)
        np.add.at(
            gx,
            (np.arange(n)[:, None, None], np.arange(c)[None, :, None], idx.reshape(n, c, -1)),
            gs[0].reshape(n, c, -1),
        )
        return (gx.reshape(n, c, h, w),)

    return (y, idx), vjp
