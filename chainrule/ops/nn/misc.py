"""Fused misc layer ops: dropout, embedding, and the identity used by module backward hooks."""

from __future__ import annotations

import numpy as np

from .._registry import op


@op("identity_hook", formula="x̄ = hook(ȳ)", multi=True)
def identity_hook(*xs, hook):
    """Pass tensors through unchanged; in backward, ``hook`` sees (and may replace) the grads.

    Module full backward hooks put this op around a module's inputs and outputs.
    """
    outs = tuple(x.view() for x in xs)

    def vjp(gs, needs):
        # A one-output multi op gets its gradient as a bare array, not a 1-tuple.
        gs = (gs,) if isinstance(gs, np.ndarray) else tuple(gs)
        return tuple(hook(gs))

    return outs, vjp


@op("dropout", formula="x̄ = ȳ · mask / (1 − p)", onnx="Dropout", backward_name="MulBackward0")
def dropout(x, mask=None, scale=1.0):
    """``x · mask · scale``; ``mask`` (bool, broadcastable to x) is drawn by ``F.dropout``.

    Drawing the mask outside the op keeps the op deterministic given its inputs (gradcheck
    can re-run it) and lets Dropout1d/2d pass channel-shaped masks.
    """
    m = mask * scale if scale != 1.0 else mask
    m = m.astype(x.dtype, copy=False)
    y = x * m

    def vjp(g, needs):
        return (g * m,)

    return y, vjp


@op(
    "embedding",
    formula="W̄[i] = Σ ȳ over positions holding index i (none for padding_idx)",
    onnx="Gather",
    backward_name="EmbeddingBackward0",
)
def embedding(w, indices=None, padding_idx=None, scale_grad_by_freq=False):
    """Rows of ``w`` (num_embeddings, dim) at integer ``indices`` (any shape)."""
    y = w[indices]

    def vjp(g, needs):
        flat = indices.reshape(-1)
        g2 = g.reshape(-1, w.shape[1])
        if scale_grad_by_freq:
            counts = np.bincount(flat, minlength=w.shape[0])
            g2 = g2 / counts[flat][:, None]
        gw = np.zeros(w.shape, dtype=g.dtype)
        np.add.at(gw, flat, g2)
        if padding_idx is not None:
            gw[padding_idx] = 0.0  # the padding row never learns (torch)
        return (gw,)

    return y, vjp
