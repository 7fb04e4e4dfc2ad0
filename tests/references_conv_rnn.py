"""Primitive-only decompositions of the fused conv / pool / pad / RNN / attention ops.

Each reference uses only chainrule's primitive ops (indexing, matmul/einsum, reshape, permute,
constant pad, elementwise, reductions, stack) so its gradient comes from autodiff, never from a
hand-written VJP. ``tests/nn/test_references_conv_rnn.py`` checks every fused op's values and
gradients against these (DESIGN §2.5, the ``torch/_decomp`` idea). They are written for clarity,
not speed.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.ops import shape as S


def _windows(xp, kh, kw, stride, dilation, ho, wo):
    """(N, C, Ho, Wo, kh, kw) patches of padded NCHW ``xp`` by one advanced-indexing gather."""
    hi = (np.arange(ho) * stride[0])[:, None] + np.arange(kh) * dilation[0]  # (Ho, kh)
    wi = (np.arange(wo) * stride[1])[:, None] + np.arange(kw) * dilation[1]  # (Wo, kw)
    return xp[:, :, hi[:, None, :, None], wi[None, :, None, :]]


def conv2d_ref(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """conv2d as unfold (gather) + one einsum per group: out = Σ patches · W."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    pt, pb, pl, pr = pads
    xp = S.pad(x, widths=((0, 0), (0, 0), (pt, pb), (pl, pr)), value=0.0)
    ho = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    p = _windows(xp, kh, kw, stride, dilation, ho, wo)  # (N, C, Ho, Wo, kh, kw)
    p = p.reshape(n, groups, cg, ho, wo, kh, kw)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    y = cr.einsum("ngchwij,gocij->ngohw", p, wg).reshape(n, o, ho, wo)
    if b is not None:
        y = y + b.reshape(1, o, 1, 1)
    return y


def conv_transpose2d_ref(
    x,
    w,
    b=None,
    stride=(1, 1),
    padding=(0, 0),
    output_padding=(0, 0),
    groups=1,
    dilation=(1, 1),
):
    """Transposed conv as zero-insertion (a 0/1 matmul), padding, and a conv with the
    flipped, in/out-swapped kernel."""
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    uh = np.zeros(((h - 1) * stride[0] + 1, h))
    uh[np.arange(h) * stride[0], np.arange(h)] = 1.0
    uw = np.zeros(((wd - 1) * stride[1] + 1, wd))
    uw[np.arange(wd) * stride[1], np.arange(wd)] = 1.0
    up = cr.tensor(uh, dtype=x.dtype) @ x @ cr.tensor(uw.T, dtype=x.dtype)
    ph = dilation[0] * (kh - 1) - padding[0]
    pw = dilation[1] * (kw - 1) - padding[1]
    wt = w.reshape(groups, cin // groups, cog, kh, kw).permute(0, 2, 1, 3, 4)
    wt = wt.reshape(groups * cog, cin // groups, kh, kw).flip((2, 3))
    pads = (ph, ph + output_padding[0], pw, pw + output_padding[1])
    # negative pads crop (padding larger than the kernel reach)
    return conv2d_ref(up, wt, b, (1, 1), pads, dilation, groups)


def max_pool2d_ref(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Max over each window: gather the windows, then max(dim) (gradient to the argmax)."""
    from chainrule.ops.nn.pooling import pool_out_size

    n, c, h, w = x.shape
    ho = pool_out_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    wo = pool_out_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    extra_h = max(0, (ho - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - h - 2 * padding[0])
    extra_w = max(0, (wo - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - w - 2 * padding[1])
    xp = S.pad(
        x,
        widths=(
            (0, 0),
            (0, 0),
            (padding[0], padding[0] + extra_h),
            (padding[1], padding[1] + extra_w),
        ),
        value=-np.inf,
    )
    p = _windows(xp, kernel[0], kernel[1], stride, dilation, ho, wo)
    return cr.max(p.reshape(n, c, ho, wo, -1), dim=-1)[0]


def avg_pool2d_ref(
    x,
    kernel,
    stride,
    padding=(0, 0),
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Window sums divided by torch's per-position divisor (a constant array)."""
    from chainrule.ops.nn.pooling import _avg_divisor, pool_out_size

    n, c, h, w = x.shape
    ho = pool_out_size(h, kernel[0], stride[0], padding[0], 1, ceil_mode)
    wo = pool_out_size(w, kernel[1], stride[1], padding[1], 1, ceil_mode)
    extra_h = max(0, (ho - 1) * stride[0] + kernel[0] - h - 2 * padding[0])
    extra_w = max(0, (wo - 1) * stride[1] + kernel[1] - w - 2 * padding[1])
    xp = S.pad(
        x,
        widths=(
            (0, 0),
            (0, 0),
            (padding[0], padding[0] + extra_h),
            (padding[1], padding[1] + extra_w),
        ),
        value=0.0,
    )
    p = _windows(xp, kernel[0], kernel[1], stride, (1, 1), ho, wo)
    if divisor_override:
        div = np.full((ho, wo), float(divisor_override))
    else:
        div = np.outer(
            _avg_divisor(h, kernel[0], stride[0], padding[0], ho, count_include_pad),
            _avg_divisor(w, kernel[1], stride[1], padding[1], wo, count_include_pad),
        )
    return p.sum(dim=(-2, -1)) / cr.tensor(div, dtype=x.dtype)


def adaptive_avg_pool2d_ref(x, output_size):
    """Mean of each adaptive cell, one slice per output position."""
    h, w = x.shape[-2:]
    oh, ow = output_size
    rows = []
    for i in range(oh):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        cols = []
        for j in range(ow):
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            cols.append(x[..., hs:he, ws:we].mean(dim=(-2, -1)))
        rows.append(cr.stack(cols, dim=-1))
    return cr.stack(rows, dim=-2)


def pad_nd_ref(x, widths, mode):
    """reflect / replicate / circular padding as an index_select per padded dim."""
    npmode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    lead = x.dim() - len(widths)
    for i, (lo, hi) in enumerate(widths):
        ax = lead + i
        idx = np.pad(np.arange(x.shape[ax]), (lo, hi), mode=npmode)
        x = x.index_select(ax, cr.tensor(idx))
    return x


def _sigmoid(x):
    return 1.0 / (1.0 + cr.exp(-x))


def lstm_ref(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """LSTM unrolled step by step with matmul, sigmoid, tanh (torch's gate order i, f, g, o)."""
    hsz = w_hh.shape[1]
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        g = x[t] @ w_ih.t() + h @ w_hh.t()
        if b_ih is not None:
            g = g + b_ih + b_hh
        i, f = _sigmoid(g[:, :hsz]), _sigmoid(g[:, hsz : 2 * hsz])
        gg, o = cr.tanh(g[:, 2 * hsz : 3 * hsz]), _sigmoid(g[:, 3 * hsz :])
        c = f * c + i * gg
        h = o * cr.tanh(c)
        outs[t] = h
    return cr.stack(outs), h, c


def gru_ref(x, h, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """GRU unrolled: r, z gates; n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))."""
    hsz = w_hh.shape[1]
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        gi = x[t] @ w_ih.t()
        gh = h @ w_hh.t()
        if b_ih is not None:
            gi = gi + b_ih
            gh = gh + b_hh
        r = _sigmoid(gi[:, :hsz] + gh[:, :hsz])
        z = _sigmoid(gi[:, hsz : 2 * hsz] + gh[:, hsz : 2 * hsz])
        n = cr.tanh(gi[:, 2 * hsz :] + r * gh[:, 2 * hsz :])
        h = (1.0 - z) * n + z * h
        outs[t] = h
    return cr.stack(outs), h


def rnn_ref(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", reverse=False):
    """Elman RNN unrolled."""
    act = cr.tanh if nonlinearity == "tanh" else cr.relu
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        a = x[t] @ w_ih.t() + h @ w_hh.t()
        if b_ih is not None:
            a = a + b_ih + b_hh
        h = act(a)
        outs[t] = h
    return cr.stack(outs), h


def attention_ref(q, k, v, mask=None, scale=1.0):
    """softmax(q·kᵀ·scale + mask)·v with the softmax spelled out (exp / sum)."""
    s = (q @ k.transpose(-1, -2)) * scale
    if mask is not None:
        s = s + mask
    e = cr.exp(s - s.amax(dim=-1, keepdim=True).detach())
    p = e / e.sum(dim=-1, keepdim=True)
    return p @ v, p
