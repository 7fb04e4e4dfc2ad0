"""Fused convolutions: conv1d, conv2d, conv_transpose2d, and non-constant padding.

Each call is one graph node. Internally the data is channels-last (NHWC): a convolution window
then reads ``kernel_width × channels`` contiguous numbers per kernel row, so the im2col copy is
one strided copy with long contiguous runs, and the whole forward is ONE GEMM
(``cols @ W``). Backward is two GEMMs (``dW = gᵀ·cols``, ``dcols = g·W``) plus a col2im of
``kernel_h × kernel_w`` strided adds. Outputs are returned as NCHW *views* of channels-last
memory: the next conv/pool/elementwise op reads them without a transpose copy, which is where
NumPy convolutions usually lose to torch.

``pads`` are ``(top, bottom, left, right)`` so ``padding='same'`` with an even kernel can pad
asymmetrically the way torch does.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._registry import op

__all__ = ["conv2d", "conv1d", "conv_transpose2d", "pad_nd", "conv_out_size"]


def conv_out_size(n: int, k: int, s: int, d: int, p_total: int) -> int:
    """Output length of a convolution over ``n`` positions (floor mode)."""
    return (n + p_total - d * (k - 1) - 1) // s + 1


def _to_nhwgc(x: np.ndarray, pads: tuple, groups: int) -> np.ndarray:
    """NCHW ``x`` as a zero-padded channels-last array of shape (N, Hp, Wp, G, C/G)."""
    n, c, h, w = x.shape
    pt, pb, pl, pr = pads
    xt = x.transpose(0, 2, 3, 1)
    if not (pt or pb or pl or pr):
        return xt.reshape(n, h, w, groups, c // groups)
    xp = np.zeros((n, h + pt + pb, w + pl + pr, groups, c // groups), dtype=x.dtype)
    xp[:, pt : pt + h, pl : pl + w] = xt.reshape(n, h, w, groups, c // groups)
    return xp


def _windows(xp: np.ndarray, kh: int, kw: int, stride, dilation, ho: int, wo: int) -> np.ndarray:
    """Read-only view (N, ho, wo, G, kh, kw, Cg) of the sliding windows of (N, H, W, G, Cg)."""
    n, _, _, g, cg = xp.shape
    s0, s1, s2, s3, s4 = xp.strides
    sh, sw = stride
    dh, dw = dilation
    return as_strided(
        xp,
        (n, ho, wo, g, kh, kw, cg),
        (s0, sh * s1, sw * s2, s3, dh * s1, dw * s2, s4),
        writeable=False,
    )


def _col2im(buf: np.ndarray, cols: np.ndarray, stride, dilation) -> None:
    """Add cols (N, ho, wo, G, kh, kw, Cg) back into the windows of buf (N, H, W, G, Cg)."""
    _, ho, wo, _, kh, kw, _ = cols.shape
    sh, sw = stride
    dh, dw = dilation
    for i in range(kh):
        for j in range(kw):
            buf[
                :,
                i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                j * dw : j * dw + sw * (wo - 1) + 1 : sw,
            ] += cols[:, :, :, :, i, j]


def _tap_range(n_in: int, n_out: int, off: int, s: int) -> tuple[int, int, int]:
    """Outputs of one kernel offset whose input position ``o·s + off`` lies in [0, n_in).

    Returns (first output index, count, its input position); ``off`` is the offset minus the
    leading pad, so positions outside the range read padding and send no gradient back.
    """
    lo = max(0, -(off // s))
    cnt = max(0, min(n_out - 1, (n_in - 1 - off) // s) - lo + 1)
    return lo, cnt, lo * s + off


# Below this many contiguous numbers per kernel row (kw × C) the im2col matrix is built
# transposed, (K, M): each row is one kernel tap read along W (runs of Wo numbers) instead of
# runs of kw × C. For conv(1→32) on 28×28 that copy takes 74 µs instead of 540 µs.
_SHORT_ROW = 16
# A large im2col matrix is copied and multiplied in pieces of about this many numbers (1 MB):
# each piece is still in cache when its GEMM reads it. CNN conv2 forward: 0.8 ms less per
# step at 1 thread (2^16 … 2^20 tried, 2^18 best).
_CHUNK = 1 << 18
# An im2col matrix up to this many numbers (4 MB) is kept from forward for ∂W; a larger one
# is rebuilt piece by piece in backward: conv2 of the CNN (14.5 MB) then never writes it
# whole, 0.7 ms less per step; conv1 (2 MB, one input channel) is cheaper to keep.
_KEEP_MAX = 1 << 20


def _conv2d_dense(x, w, b, stride, pads, dilation):
    """conv2d with groups=1: one GEMM forward, bias folded into it as a column of ones.

    ``cols`` (M, K[+1]) or, for few input channels, ``colsT`` (K[+1], M) holds the windows in
    (kh, kw, C) order and a last ones column when there is a bias, so the forward GEMM adds the
    bias and the ∂W GEMM yields the bias gradient as its last column (Σ over M inside BLAS
    instead of a separate axis-0 reduction, 0.6 ms for conv(1→32) on 64×28×28). ∂x is one GEMM
    per kernel tap into a reused (M, C) buffer, added at once into the tap's shifted window of
    ∂x (contiguous runs of Wo × C numbers, while the buffer is still in cache), instead of a
    (M, K) col2im whose adds read runs of only C numbers.
    (Running the two halves of the batch in two Python threads, each with one BLAS thread,
    measured no faster at 2 threads: OpenBLAS's workers spin-wait on the second core after
    every multi-threaded GEMM of the step, so a second Python thread competes with them.)
    """
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    pt, pb, pl, pr = pads
    ho = conv_out_size(h, kh, stride[0], dilation[0], pt + pb)
    wo = conv_out_size(wd, kw, stride[1], dilation[1], pl + pr)
    xp = _to_nhwgc(x, pads, 1)
    hw = ho * wo
    m = n * hw
    kk = kh * kw
    k = kk * c
    kb = k + (b is not None)
    win = _windows(xp, kh, kw, stride, dilation, ho, wo)[:, :, :, 0]  # (N, ho, wo, kh, kw, C)
    wm = np.empty((kb, o), dtype=w.dtype)
    wm[:k] = w.transpose(2, 3, 1, 0).reshape(k, o)
    if b is not None:
        wm[k] = b
    transposed = kw * c < _SHORT_ROW
    out = np.empty((m, o), dtype=np.result_type(x.dtype, w.dtype))
    # a small im2col matrix is built whole and kept for ∂W; a large one is built in pieces of
    # ~1 MB into a reused buffer, each multiplied while in cache, and rebuilt in backward
    keep = m * kb <= _KEEP_MAX
    step = n if keep else max(1, _CHUNK // (hw * kb))  # images per piece

    def piece_buffer() -> np.ndarray:
        """A (K[+1], rows) or (rows, K[+1]) buffer for one piece, ones row/column set."""
        rows = min(step, n) * hw
        buf = np.empty((kb, rows) if transposed else (rows, kb), dtype=x.dtype)
        if b is not None:
            if transposed:
                buf[k] = 1.0
            else:
                buf[:, k] = 1.0
        return buf

    def im2col(buf: np.ndarray, a: int, e: int) -> np.ndarray:
        """The columns of images a..e written into ``buf``; returns the (rows, K[+1]) matrix
        (a transposed view in the transposed layout)."""
        rows = (e - a) * hw
        if transposed:
            np.copyto(
                buf[:k, :rows].reshape(kh, kw, c, e - a, ho, wo),
                win[a:e].transpose(3, 4, 5, 0, 1, 2),
            )
            return buf[:, :rows].T
        np.copyto(buf[:rows, :k].reshape(e - a, ho, wo, kh, kw, c), win[a:e])
        return buf[:rows]

    kept = piece_buffer() if keep else None

    def forward(lo: int, hi: int) -> None:
        if keep:  # the kept matrix's rows for images lo..hi (a view)
            view = kept[:, lo * hw :] if transposed else kept[lo * hw :]
            np.matmul(im2col(view, lo, hi), wm, out=out[lo * hw : hi * hw])
            return
        buf = piece_buffer()
        for a in range(lo, hi, step):
            e = min(hi, a + step)
            np.matmul(im2col(buf, a, e), wm, out=out[a * hw : e * hw])

    forward(0, n)
    y = out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)

    def vjp(gy, needs):
        gm = gy.transpose(0, 2, 3, 1).reshape(m, o)
        gx = gw = gb = None
        want_w = needs[1] or (b is not None and needs[2])
        if needs[0]:
            wk = w.transpose(2, 3, 0, 1).reshape(kk, o, c).astype(gm.dtype, copy=False)
            rows = [_tap_range(h, ho, i * dilation[0] - pt, stride[0]) for i in range(kh)]
            cols_ = [_tap_range(wd, wo, j * dilation[1] - pl, stride[1]) for j in range(kw)]
            # a tap covering every input position (stride 1, 'same' size): its GEMM writes ∂x
            first = None
            if (ho, wo) == (h, wd):
                first = next(
                    (
                        i * kw + j
                        for i in range(kh)
                        for j in range(kw)
                        if rows[i] == (0, h, 0) and cols_[j] == (0, wd, 0)
                    ),
                    None,
                )
            dx = (np.empty if first is not None else np.zeros)((n, h, wd, c), dtype=gm.dtype)

        def backward(lo: int, hi: int) -> np.ndarray | None:
            """∂x of images lo..hi into ``dx``; returns their (O, K[+1]) [∂W | ∂b] if wanted."""
            r0, r1 = lo * hw, hi * hw
            g = gm[r0:r1]
            acc = None
            if want_w and keep:
                acc = (kept[:, r0:r1] @ g).T if transposed else g.T @ kept[r0:r1]
            elif want_w:
                # the columns again, piece by piece from the (small) padded input
                buf = piece_buffer()
                for a in range(lo, hi, step):
                    e = min(hi, a + step)
                    part = gm[a * hw : e * hw].T @ im2col(buf, a, e)
                    acc = part if acc is None else np.add(acc, part, out=acc)
            if not needs[0]:
                return acc
            d = dx[lo:hi]
            if first is not None:
                np.matmul(g, wk[first], out=d.reshape(r1 - r0, c))
            buf = np.empty((hi - lo, ho, wo, c), dtype=gm.dtype)
            for i in range(kh):
                hlo, hcnt, hs = rows[i]
                for j in range(kw):
                    wlo, wcnt, ws = cols_[j]
                    if i * kw + j == first or not (hcnt and wcnt):
                        continue
                    np.matmul(g, wk[i * kw + j], out=buf.reshape(r1 - r0, c))
                    d[
                        :,
                        hs : hs + stride[0] * (hcnt - 1) + 1 : stride[0],
                        ws : ws + stride[1] * (wcnt - 1) + 1 : stride[1],
                    ] += buf[:, hlo : hlo + hcnt, wlo : wlo + wcnt]
            return acc

        gwb = backward(0, n)
        if gwb is not None:
            if needs[1]:
                gw = gwb[:, :k].reshape(o, kh, kw, c).transpose(0, 3, 1, 2)
                gw = np.ascontiguousarray(gw)
            if b is not None and needs[2]:
                gb = np.ascontiguousarray(gwb[:, k])
        if needs[0]:
            gx = dx.transpose(0, 3, 1, 2)
        return gx, gw, gb

    return y, vjp


def _conv2d(x, w, b, stride, pads, dilation, groups):
    """conv2d forward and VJP on arrays (shared by conv1d)."""
    if groups == 1:
        return _conv2d_dense(x, w, b, stride, pads, dilation)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g_ = groups
    og = o // g_
    pt, pb, pl, pr = pads
    ho = conv_out_size(h, kh, stride[0], dilation[0], pt + pb)
    wo = conv_out_size(wd, kw, stride[1], dilation[1], pl + pr)
    xp = _to_nhwgc(x, pads, g_)
    m = n * ho * wo
    k = kh * kw * cg
    # One copy gathers every window; kw × Cg numbers are contiguous per kernel row.
    cols = _windows(xp, kh, kw, stride, dilation, ho, wo).reshape(m, g_, k)
    # Weight as (G, K, O/G) with K ordered (kh, kw, Cg) to match the window layout.
    wm = w.reshape(g_, og, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(g_, k, og)
    if g_ == 1:
        out = cols.reshape(m, k) @ wm[0]
    else:
        out = np.matmul(cols.transpose(1, 0, 2), wm).transpose(1, 0, 2).reshape(m, o)
    if b is not None:
        out += b
    y = out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)

    def vjp(gy, needs):
        gm = gy.transpose(0, 2, 3, 1).reshape(m, o)
        gx = gw = gb = None
        if needs[0]:
            if g_ == 1:
                dcols = gm @ wm[0].T
            else:
                gmg = gm.reshape(m, g_, og).transpose(1, 0, 2)
                dcols = np.matmul(gmg, wm.transpose(0, 2, 1)).transpose(1, 0, 2)
            dxp = np.zeros(xp.shape, dtype=gy.dtype)
            _col2im(dxp, dcols.reshape(n, ho, wo, g_, kh, kw, cg), stride, dilation)
            dxp = dxp[:, pt : pt + h, pl : pl + wd].reshape(n, h, wd, c)
            gx = dxp.transpose(0, 3, 1, 2)
        if needs[1]:
            if g_ == 1:
                gwm = (gm.T @ cols.reshape(m, k)).reshape(1, og, k)
            else:
                gmg = gm.reshape(m, g_, og).transpose(1, 2, 0)
                gwm = np.matmul(gmg, cols.transpose(1, 0, 2))
            gw = gwm.reshape(g_, og, kh, kw, cg).transpose(0, 1, 4, 2, 3).reshape(o, cg, kh, kw)
            gw = np.ascontiguousarray(gw)
        if b is not None and needs[2]:
            gb = gm.sum(axis=0)
        return gx, gw, gb

    return y, vjp


@op(
    "conv2d",
    formula="x̄ = col2im(ȳ·W),  W̄ = ȳᵀ·im2col(x),  b̄ = Σ ȳ",
    onnx="Conv",
    backward_name="ConvolutionBackward0",
)
def conv2d(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """2-D convolution (cross-correlation) of NCHW ``x`` with OIHW ``w``; one GEMM forward."""
    return _conv2d(x, w, b, stride, pads, dilation, groups)


@op(
    "conv1d",
    formula="x̄ = col2im(ȳ·W),  W̄ = ȳᵀ·im2col(x),  b̄ = Σ ȳ",
    onnx="Conv",
    backward_name="ConvolutionBackward0",
)
def conv1d(x, w, b=None, stride=1, pads=(0, 0), dilation=1, groups=1):
    """1-D convolution of NCL ``x`` with OIK ``w``, run as a conv2d of height 1."""
    y, vjp2 = _conv2d(
        x[:, :, None, :], w[:, :, None, :], b, (1, stride), (0, 0, *pads), (1, dilation), groups
    )

    def vjp(g, needs):
        gx, gw, gb = vjp2(g[:, :, None, :], needs)
        return (
            gx[:, :, 0, :] if gx is not None else None,
            gw[:, :, 0, :] if gw is not None else None,
            gb,
        )

    return y[:, :, 0, :], vjp


@op(
    "conv_transpose2d",
    formula="x̄ = im2col(ȳ)·Wᵀ,  W̄ = xᵀ·im2col(ȳ),  b̄ = Σ ȳ",
    onnx="ConvTranspose",
    backward_name="ConvolutionBackward0",
)
def conv_transpose2d(
    x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1, dilation=(1, 1)
):
    """Transposed 2-D convolution (conv2d's input gradient); ``w`` is (Cin, Cout/G, kh, kw)."""
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    g_ = groups
    cig = cin // g_
    sh, sw = stride
    dh, dw = dilation
    ph, pw = padding
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding[0] + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + output_padding[1] + 1
    hb = max((h - 1) * sh + dh * (kh - 1) + 1, ph + ho)
    wb = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + wo)
    m = n * h * wd
    k = kh * kw * cog
    xm = x.transpose(0, 2, 3, 1).reshape(m, g_, cig).transpose(1, 0, 2)  # (G, M, Cin/G)
    wt = w.reshape(g_, cig, cog, kh, kw).transpose(0, 1, 3, 4, 2).reshape(g_, cig, k)
    cols = np.matmul(xm, wt).transpose(1, 0, 2).reshape(n, h, wd, g_, kh, kw, cog)
    buf = np.zeros((n, hb, wb, g_, cog), dtype=cols.dtype)
    _col2im(buf, cols, stride, dilation)
    out = buf[:, ph : ph + ho, pw : pw + wo].reshape(n, ho, wo, g_ * cog)
    if b is not None:
        out += b
    y = out.transpose(0, 3, 1, 2)

    def vjp(g, needs):
        gp = np.zeros((n, hb, wb, g_ * cog), dtype=g.dtype)
        gp[:, ph : ph + ho, pw : pw + wo] = g.transpose(0, 2, 3, 1)
        gp = gp.reshape(n, hb, wb, g_, cog)
        gcols = _windows(gp, kh, kw, stride, dilation, h, wd).reshape(m, g_, k).transpose(1, 0, 2)
        gx = gw = gb = None
        if needs[0]:
            gxm = np.matmul(gcols, wt.transpose(0, 2, 1))  # (G, M, Cin/G)
            gx = gxm.transpose(1, 0, 2).reshape(n, h, wd, cin).transpose(0, 3, 1, 2)
        if needs[1]:
            gwm = np.matmul(xm.transpose(0, 2, 1), gcols)  # (G, Cin/G, K)
            gw = gwm.reshape(g_, cig, kh, kw, cog).transpose(0, 1, 4, 2, 3)
            gw = np.ascontiguousarray(gw.reshape(cin, cog, kh, kw))
        if b is not None and needs[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb

    return y, vjp


_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@op(
    "pad_nd",
    formula="x̄ = ȳ summed back onto the source of every padded copy",
    onnx="Pad",
    backward_name="ReflectionPad2DBackward0",
)
def pad_nd(x, widths=(), mode="reflect"):
    """Reflect / replicate / circular padding of the last ``len(widths)`` dims.

    ``widths`` is ((before, after), …) for those trailing dims. Each padded dim is a gather
    ``y = x[idx]``; the gradient sums ȳ back onto the source positions (np.add.at), so
    positions copied several times (small inputs, circular wrap) get every contribution.
    """
    npmode = _NP_MODES[mode]
    lead = x.ndim - len(widths)
    idxs = []
    y = x
    for i, (lo, hi) in enumerate(widths):
        ax = lead + i
        idx = np.pad(np.arange(x.shape[ax]), (lo, hi), mode=npmode)
        idxs.append((ax, idx))
        y = np.take(y, idx, axis=ax)

    def vjp(g, needs):
        gx = g
        for ax, idx in reversed(idxs):
            moved = np.moveaxis(gx, ax, 0)
            acc = np.zeros((x.shape[ax], *moved.shape[1:]), g.dtype)
            np.add.at(acc, idx, moved)
            gx = np.moveaxis(acc, 0, ax)
        return (gx,)

    return y, vjp
