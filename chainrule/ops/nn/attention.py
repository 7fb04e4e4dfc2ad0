"""Fused scaled dot-product attention: scores, mask, softmax, dropout and the value product in
one node, with the softmax gradient written in terms of the saved probabilities.

``mask`` is an input (a float mask that requires grad gets ``∂L/∂scores``); a bool mask means
"True = may attend" (torch's sdpa convention) and is turned into 0 / −inf here. ``keep`` is the
dropout mask already scaled by 1/(1−p) (drawn by ``nn.functional`` from chainrule's generator).
Rows whose keys are all masked give zeros when ``safe`` (torch's sdpa) and NaN otherwise (torch's
MultiheadAttention with ``need_weights=True`` uses a plain softmax, and so does its inference fast
path with a bool mask, which ``nn.MultiheadAttention`` reproduces with this op).
"""

from __future__ import annotations

import numpy as np

from .._registry import op

__all__ = ["sdpa", "attention_with_weights"]


def _attention(q, k, v, mask, scale, keep, safe):
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= scale
    if mask is not None:
        if mask.dtype == np.bool_:
            scores = np.where(mask, scores, -np.inf)
        else:
            scores = scores + mask
    m = np.max(scores, axis=-1, keepdims=True)
    if safe:
        m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(invalid="ignore"):
        e = np.exp(scores - m)
        s = np.sum(e, axis=-1, keepdims=True)
        if safe:
            s[s == 0] = 1.0
        p = e / s
    pd = p * keep if keep is not None else p
    out = np.matmul(pd, v)

    def grads(g_out, g_w, needs):
        """(dq, dk, dv, dmask) from the output gradient and the weights' gradient (or None)."""
        dpd = np.matmul(g_out, np.swapaxes(v, -1, -2))
        if g_w is not None:
            dpd += g_w
        dv = np.matmul(np.swapaxes(pd, -1, -2), g_out) if needs[2] else None
        dp = dpd * keep if keep is not None else dpd
        # softmax: ds = p ⊙ (dp − Σ dp ⊙ p)
        with np.errstate(invalid="ignore"):
            ds = dp * p
            ds -= p * np.sum(ds, axis=-1, keepdims=True)
        dq = np.matmul(ds, k) * scale if needs[0] else None
        dk = np.matmul(np.swapaxes(ds, -1, -2), q) * scale if needs[1] else None
        dmask = ds if (mask is not None and len(needs) > 3 and needs[3]) else None
        return dq, dk, dv, dmask

    return out, pd, grads


@op(
    "scaled_dot_product_attention",
    onnx="Attention",
    formula="S̄ = P ⊙ (P̄ − Σ P̄⊙P),  q̄ = S̄·k·s,  k̄ = S̄ᵀ·q·s,  v̄ = Pᵀ·ȳ",
)
def sdpa(q, k, v, mask=None, scale=1.0, keep=None):
    """softmax(q·kᵀ·scale + mask) · v over the last two dims (fully masked rows give 0)."""
    out, _, grads = _attention(q, k, v, mask, scale, keep, True)

    def vjp(g, needs):
        return grads(g, None, needs)

    return out, vjp


@op(
    "attention_with_weights",
    multi=True,
    backward_name="ScaledDotProductAttentionBackward0",
    formula="S̄ = P ⊙ (P̄ − Σ P̄⊙P),  q̄ = S̄·k·s,  k̄ = S̄ᵀ·q·s,  v̄ = Pᵀ·ȳ",
)
def attention_with_weights(q, k, v, mask=None, scale=1.0, keep=None):
    """Like ``sdpa`` but also returns the (dropped-out) attention weights, plain softmax."""
    out, pd, grads = _attention(q, k, v, mask, scale, keep, False)

    def vjp(gs, needs):
        return grads(gs[0], gs[1], needs)

    return (out, pd), vjp
