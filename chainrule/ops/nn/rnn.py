"""Fused recurrent kernels: a whole sequence of one RNN/LSTM/GRU layer and direction is ONE node.

Forward: one GEMM projects the inputs of all time steps at once, then each step adds one
recurrent GEMM into a preallocated gate buffer and applies the gate nonlinearities in place.
Backward runs through time inside the same node, writing the pre-activation gradients of every
step into one buffer, so the weight gradients are one GEMM over all steps (not one per step).

Gate orders and weight layouts are torch's: LSTM (i, f, g, o), GRU (r, z, n) with b_hn inside
``r * (W_hn h + b_hn)``. Internally the LSTM rows are reordered to (o, i, f, g) so the three
sigmoid gates are one contiguous block and so are the three gates that multiply ∂c; gradients
are put back in torch's order.

Sigmoid is computed as ``0.5 · tanh(0.5 x) + 0.5``: exact algebraically, and it never overflows
(``1 / (1 + exp(-x))`` warns for large negative x).

The per-step products run with NumPy's BLAS thread pool as configured (OpenBLAS: as many
threads as cores unless limited, e.g. by ``threadpoolctl``). Limiting them to one thread (the
previous design) measured slower on an idle 2-core machine: a
(32 × 256)·(256 × 1024) product takes 155 µs on one thread and 87 µs on two, and the char-LSTM
layer's forward + backward took 25.9 ms with two threads vs 34.3 ms with one for the loops.

Arguments: ``x`` is (T, B, I) time-major (or (B, I) for the single-step cell ops), ``h0``/``c0``
are (B, H). ``reverse=True`` walks the sequence backwards (the reverse direction of a
bidirectional layer); outputs are always in input time order.
"""

from __future__ import annotations

import numpy as np

from .._registry import op

__all__ = ["lstm_layer", "gru_layer", "rnn_layer", "lstm_cell", "gru_cell", "rnn_cell"]


def _sigmoid_(a: np.ndarray) -> None:
    """In-place logistic sigmoid via tanh (no overflow warnings)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _internal(w, hsz):
    """A copy of an LSTM weight (4H, K) or bias (4H,) with its rows in the internal order.

    torch's (i, f, g, o) → (o, i, f, g): the sigmoid gates (o, i, f) are one block and the gates
    that multiply ∂c in backward (i, f, g) another. It is a rotation by one block.
    """
    out = np.empty_like(w)
    out[:hsz] = w[3 * hsz :]
    out[hsz:] = w[: 3 * hsz]
    return out


def _torch_order(v, hsz):
    """Inverse of ``_internal`` (a copy)."""
    out = np.empty_like(v)
    out[: 3 * hsz] = v[hsz:]
    out[3 * hsz :] = v[:hsz]
    return out


def _torch_order_product(d2, a, hsz):
    """``(d2ᵀ · a)`` with its rows back in torch's gate order, written in place by two GEMMs
    (no permuting copy of the (4H, K) result)."""
    gw = np.empty((4 * hsz, a.shape[1]), dtype=d2.dtype)
    np.matmul(d2[:, hsz:].T, a, out=gw[: 3 * hsz])
    np.matmul(d2[:, :hsz].T, a, out=gw[3 * hsz :])
    return gw


def _lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse):
    """LSTM forward over (T, B, I) plus the backward-through-time VJP."""
    t_len, bsz, isz = x.shape
    hsz = w_ih.shape[0] // 4
    psz = w_hr.shape[0] if w_hr is not None else hsz
    dt = x.dtype
    h1, h2, h3, h4 = hsz, 2 * hsz, 3 * hsz, 4 * hsz
    wi = _internal(w_ih, hsz)  # unscaled rows, for x̄ and h̄ in backward
    wh = _internal(w_hh, hsz)
    # σ(a) = ½·tanh(½a) + ½: halving the sigmoid rows of the weights and bias up front (exact:
    # a power of two) lets one tanh call per step cover all four gates.
    whs = wh.copy()
    whs[:h3] *= 0.5
    whs_t = whs.T  # a transposed view: OpenBLAS's NT product is the faster one at (B, P)·(P, 4H)
    xo = x[::-1] if reverse else x
    if b_ih is None:
        x2 = xo.reshape(t_len * bsz, isz)
        wis = wi.copy()
        wis[:h3] *= 0.5
        gates = np.matmul(x2, wis.T)
    else:
        # The bias rides in the input projection as a column of ones (K = I + 1): +0.03 ms of
        # GEMM instead of a 0.2 ms pass over the (T·B, 4H) gates; x is copied either way (a
        # batch_first input arrives transposed).
        xa = np.empty((t_len * bsz, isz + 1), dtype=dt)
        xa.reshape(t_len, bsz, isz + 1)[:, :, :isz] = xo
        xa[:, isz] = 1.0
        wa = np.empty((h4, isz + 1), dtype=dt)
        wa[:, :isz] = wi
        wa[:, isz] = _internal(b_ih + b_hh, hsz)
        wa[:h3] *= 0.5
        x2 = xa[:, :isz]
        gates = np.matmul(xa, wa.T)
    gates = gates.reshape(t_len, bsz, h4)
    # the sigmoid affine over the whole gate row as one contiguous call each (a strided
    # (B, 3H) slice costs 2-3× a contiguous (B, 4H) pass); × 1 and + 0 leave g exact
    scale = np.empty((bsz, h4), dtype=dt)
    scale[:, :h3] = 0.5
    scale[:, h3:] = 1.0
    shift = np.empty((bsz, h4), dtype=dt)
    shift[:, :h3] = 0.5
    shift[:, h3:] = 0.0
    hs = np.empty((t_len + 1, bsz, psz), dtype=dt)
    cs = np.empty((t_len + 1, bsz, hsz), dtype=dt)
    tcs = np.empty((t_len, bsz, hsz), dtype=dt)
    hraw = np.empty((t_len, bsz, hsz), dtype=dt) if w_hr is not None else None
    hs[0] = h0
    cs[0] = c0
    tmp = np.empty((bsz, hsz), dtype=dt)
    tmp4 = np.empty((bsz, h4), dtype=dt)
    mul, add, tanh, matmul = np.multiply, np.add, np.tanh, np.matmul
    for k in range(t_len):
        gk = gates[k]
        matmul(hs[k], whs_t, out=tmp4)
        add(gk, tmp4, out=gk)
        tanh(gk, out=gk)
        mul(gk, scale, out=gk)
        add(gk, shift, out=gk)
        c = cs[k + 1]
        mul(gk[:, h2:h3], cs[k], out=c)  # f · c
        mul(gk[:, h1:h2], gk[:, h3:], out=tmp)  # i · g
        add(c, tmp, out=c)
        tc = tcs[k]
        tanh(c, out=tc)
        if w_hr is None:
            mul(gk[:, :h1], tc, out=hs[k + 1])
        else:
            mul(gk[:, :h1], tc, out=hraw[k])
            matmul(hraw[k], w_hr.T, out=hs[k + 1])
    out = hs[:0:-1] if reverse else hs[1:]
    outs = (out, hs[t_len].copy(), cs[t_len].copy())

    def vjp(gs, needs):
        g_out, g_h, g_c = gs
        g_out = g_out[::-1] if reverse else g_out
        # The gate derivatives are formed step by step from the saved gates while they are in
        # cache: precomputing them for all steps at once costs more (8 MB arrays written and
        # read back: measured 2.1 ms vs 0.8 ms more in the loop at T=64, B=32, H=256).
        ab = np.zeros((2, bsz, h4), dtype=dt)
        ab[0, :, :h3] = 1.0
        ab[1, :, h3:] = 1.0
        alpha, beta = ab
        q = np.empty((bsz, h4), dtype=dt)  # gate nonlinearity derivatives
        p = np.empty((bsz, h4), dtype=dt)  # what multiplies them: [h̄·tanh c, c̄·g, c̄·c₋₁, c̄·i]
        dgates = np.empty((t_len, bsz, h4), dtype=dt)
        d2 = dgates.reshape(t_len * bsz, h4)
        dhs = np.empty((t_len, bsz, psz), dtype=dt) if w_hr is not None else None
        dh = np.array(g_h, dtype=dt)
        dc = np.array(g_c, dtype=dt)
        da = np.empty((bsz, hsz), dtype=dt)
        dhp = np.empty((bsz, psz), dtype=dt)
        sub = np.subtract
        for k in range(t_len - 1, -1, -1):
            add(dh, g_out[k], out=dh)
            if w_hr is None:
                dhr, ho = dh, hs[k + 1]
            else:
                dhs[k] = dh
                dhr, ho = dh @ w_hr, hraw[k]
            gk = gates[k]
            tc = tcs[k]
            sub(alpha, gk, out=q)  # 1 − σ | −g
            mul(q, gk, out=q)  # σ(1 − σ) | −g²
            add(q, beta, out=q)  # σ(1 − σ) | 1 − g²
            # c̄ += h̄ · o · (1 − tanh² c), with o · tanh c = h already saved: o − h · tanh c
            mul(ho, tc, out=da)
            sub(gk[:, :h1], da, out=da)
            mul(da, dhr, out=da)
            add(dc, da, out=dc)
            mul(dhr, tc, out=p[:, :h1])
            mul(dc, gk[:, h3:], out=p[:, h1:h2])
            mul(dc, cs[k], out=p[:, h2:h3])
            mul(dc, gk[:, h1:h2], out=p[:, h3:])
            dk = dgates[k]
            mul(p, q, out=dk)
            mul(dc, gk[:, h2:h3], out=dc)  # c̄₋₁ = c̄ · f
            matmul(dk, wh, out=dhp)
            dh, dhp = dhp, dh
        gx = gh0 = gc0 = gwi = gwh = gb = gwr = None
        if needs[0]:
            gx = (d2 @ wi).reshape(t_len, bsz, isz)
            gx = gx[::-1] if reverse else gx
        if needs[1]:
            gh0 = dh
        if needs[2]:
            gc0 = dc
        if needs[3]:
            gwi = _torch_order_product(d2, x2, hsz)
        if needs[4]:
            gwh = _torch_order_product(d2, hs[:-1].reshape(t_len * bsz, psz), hsz)
        if b_ih is not None and (needs[5] or needs[6]):
            gb = _torch_order(np.add.reduce(d2, axis=0), hsz)
        if w_hr is not None and needs[7]:
            gwr = dhs.reshape(t_len * bsz, psz).T @ hraw.reshape(t_len * bsz, hsz)
        return gx, gh0, gc0, gwi, gwh, gb, (gb.copy() if gb is not None else None), gwr

    return outs, vjp


def _gru(x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    """GRU forward over (T, B, I) plus the backward-through-time VJP."""
    t_len, bsz, isz = x.shape
    hsz = w_ih.shape[0] // 3
    dt = x.dtype
    h2 = 2 * hsz
    xo = x[::-1] if reverse else x
    gi = (xo.reshape(t_len * bsz, isz) @ w_ih.T).reshape(t_len, bsz, 3 * hsz)
    if b_ih is not None:
        gi += b_ih
    hs = np.empty((t_len + 1, bsz, hsz), dtype=dt)
    gh = np.empty((t_len, bsz, 3 * hsz), dtype=dt)  # W_hh h + b_hh per step (n part for dr)
    hs[0] = h0
    wht = w_hh.T
    tmp = np.empty((bsz, hsz), dtype=dt)
    for k in range(t_len):
        ghk = gh[k]
        np.matmul(hs[k], wht, out=ghk)
        if b_hh is not None:
            ghk += b_hh
        gk = gi[k]
        rz = gk[:, :h2]
        rz += ghk[:, :h2]
        _sigmoid_(rz)
        n = gk[:, h2:]
        np.multiply(gk[:, :hsz], ghk[:, h2:], out=tmp)
        n += tmp
        np.tanh(n, out=n)
        # h' = (1 - z) n + z h = n + z (h - n)
        hk = hs[k + 1]
        np.subtract(hs[k], n, out=hk)
        hk *= gk[:, hsz:h2]
        hk += n
    out = hs[:0:-1] if reverse else hs[1:]
    outs = (out, hs[t_len].copy())

    def vjp(gs, needs):
        g_out, g_h = gs
        g_out = g_out[::-1] if reverse else g_out
        r, z, n = gi[:, :, :hsz], gi[:, :, hsz:h2], gi[:, :, h2:]
        # Per-step factors for all steps at once (few big calls instead of T small ones):
        fa = (1.0 - z) * (1.0 - n * n)  # ∂h'/∂(n pre-activation)
        fz = (hs[:-1] - n) * z * (1.0 - z)  # ∂h'/∂(z pre-activation)
        fr = gh[:, :, h2:] * r * (1.0 - r)  # ∂(n pre-activation)/∂(r pre-activation)
        dgi = np.empty((t_len, bsz, 3 * hsz), dtype=dt)
        dgh = np.empty((t_len, bsz, 3 * hsz), dtype=dt)
        dh = np.array(g_h, dtype=dt)
        for k in range(t_len - 1, -1, -1):
            dh += g_out[k]
            di = dgi[k]
            dhh = dgh[k]
            np.multiply(dh, fa[k], out=di[:, h2:])  # d n-pre
            np.multiply(dh, fz[k], out=di[:, hsz:h2])  # d z-pre
            np.multiply(di[:, h2:], fr[k], out=di[:, :hsz])  # d r-pre
            dhh[:, :h2] = di[:, :h2]
            np.multiply(di[:, h2:], r[k], out=dhh[:, h2:])
            dh *= z[k]
            dh += dhh @ w_hh
        gi2 = dgi.reshape(t_len * bsz, 3 * hsz)
        gh2 = dgh.reshape(t_len * bsz, 3 * hsz)
        gx = gh0 = gwi = gwh = gbi = gbh = None
        if needs[0]:
            gx = (gi2 @ w_ih).reshape(t_len, bsz, isz)
            gx = gx[::-1] if reverse else gx
        if needs[1]:
            gh0 = dh
        if needs[2]:
            gwi = gi2.T @ xo.reshape(t_len * bsz, isz)
        if needs[3]:
            gwh = gh2.T @ hs[:-1].reshape(t_len * bsz, hsz)
        if b_ih is not None and needs[4]:
            gbi = gi2.sum(axis=0)
        if b_hh is not None and needs[5]:
            gbh = gh2.sum(axis=0)
        return gx, gh0, gwi, gwh, gbi, gbh

    return outs, vjp


def _rnn(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse):
    """Elman RNN (tanh or relu) forward over (T, B, I) plus the backward-through-time VJP."""
    t_len, bsz, isz = x.shape
    hsz = w_ih.shape[0]
    dt = x.dtype
    relu = nonlinearity == "relu"
    xo = x[::-1] if reverse else x
    pre = (xo.reshape(t_len * bsz, isz) @ w_ih.T).reshape(t_len, bsz, hsz)
    if b_ih is not None:
        pre += b_ih + b_hh
    hs = np.empty((t_len + 1, bsz, hsz), dtype=dt)
    hs[0] = h0
    wht = w_hh.T
    for k in range(t_len):
        a = pre[k]
        a += hs[k] @ wht
        if relu:
            np.maximum(a, 0.0, out=hs[k + 1])
        else:
            np.tanh(a, out=hs[k + 1])
    out = hs[:0:-1] if reverse else hs[1:]
    outs = (out, hs[t_len].copy())

    def vjp(gs, needs):
        g_out, g_h = gs
        g_out = g_out[::-1] if reverse else g_out
        da = np.empty((t_len, bsz, hsz), dtype=dt)
        dh = np.array(g_h, dtype=dt)
        for k in range(t_len - 1, -1, -1):
            dh += g_out[k]
            hk = hs[k + 1]
            if relu:
                np.multiply(dh, hk > 0, out=da[k])  # relu'(0) = 0, as torch
            else:
                np.multiply(hk, hk, out=da[k])
                np.subtract(1.0, da[k], out=da[k])
                da[k] *= dh
            dh = da[k] @ w_hh
        d2 = da.reshape(t_len * bsz, hsz)
        gx = gh0 = gwi = gwh = gb = None
        if needs[0]:
            gx = (d2 @ w_ih).reshape(t_len, bsz, isz)
            gx = gx[::-1] if reverse else gx
        if needs[1]:
            gh0 = dh
        if needs[2]:
            gwi = d2.T @ xo.reshape(t_len * bsz, isz)
        if needs[3]:
            gwh = d2.T @ hs[:-1].reshape(t_len * bsz, hsz)
        if b_ih is not None and (needs[4] or needs[5]):
            gb = d2.sum(axis=0)
        return gx, gh0, gwi, gwh, gb, (gb.copy() if gb is not None else None)

    return outs, vjp


@op(
    "lstm_layer",
    multi=True,
    onnx="LSTM",
    backward_name="LstmBackward0",
    formula="backprop through time: Ḡₜ = gate′ ⊙ (…),  W̄ = Σₜ Ḡₜᵀ·[xₜ, hₜ₋₁]",
)
def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, reverse=False):
    """One LSTM layer/direction over a (T, B, I) sequence → (output, h_T, c_T)."""
    return _lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse)


@op(
    "gru_layer",
    multi=True,
    onnx="GRU",
    backward_name="GruBackward0",
    formula="backprop through time: Ḡₜ = gate′ ⊙ (…),  W̄ = Σₜ Ḡₜᵀ·[xₜ, hₜ₋₁]",
)
def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One GRU layer/direction over a (T, B, I) sequence → (output, h_T)."""
    return _gru(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)


@op(
    "rnn_layer",
    multi=True,
    onnx="RNN",
    backward_name="RnnTanhBackward0",
    formula="backprop through time: āₜ = act′ ⊙ h̄ₜ,  W̄ = Σₜ āₜᵀ·[xₜ, hₜ₋₁]",
)
def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", reverse=False):
    """One Elman RNN layer/direction over a (T, B, I) sequence → (output, h_T)."""
    return _rnn(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse)


def _single_step(outs, vjp, n_out, n_in):
    """Adapt a T=1 sequence kernel to a cell: drop the output sequence, squeeze x's gradient."""

    def cell_vjp(gs, needs):
        if not isinstance(gs, tuple):  # the engine passes a bare array for one output
            gs = (gs,)
        g0 = np.zeros(outs[0].shape, dtype=outs[0].dtype)
        grads = list(vjp((g0, *gs), needs)[:n_in])
        if grads[0] is not None:
            grads[0] = grads[0][0]
        return tuple(grads)

    return outs[1 : 1 + n_out], cell_vjp


@op(
    "lstm_cell",
    multi=True,
    backward_name="LstmCellBackward0",
    formula="one LSTM step: Ḡ = gate′ ⊙ (…),  W̄ = Ḡᵀ·[x, h]",
)
def lstm_cell(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step on (B, I) input → (h', c')."""
    outs, vjp = _lstm(x[None], h0, c0, w_ih, w_hh, b_ih, b_hh, None, False)
    return _single_step(outs, vjp, 2, 7)


@op(
    "gru_cell",
    multi=True,
    backward_name="GruCellBackward0",
    formula="one GRU step: Ḡ = gate′ ⊙ (…),  W̄ = Ḡᵀ·[x, h]",
)
def gru_cell(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step on (B, I) input → (h',) (a 1-tuple)."""
    outs, vjp = _gru(x[None], h0, w_ih, w_hh, b_ih, b_hh, False)
    return _single_step(outs, vjp, 1, 6)


@op(
    "rnn_cell",
    multi=True,
    backward_name="RnnCellBackward0",
    formula="one RNN step: ā = act′ ⊙ h̄,  W̄ = āᵀ·[x, h]",
)
def rnn_cell(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One Elman RNN step on (B, I) input → (h',) (a 1-tuple)."""
    outs, vjp = _rnn(x[None], h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, False)
    return _single_step(outs, vjp, 1, 6)
