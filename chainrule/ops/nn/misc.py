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


def _sum_rows_by_index(flat, g2, n):
    """``out[i] = Σ g2[j] over j with flat[j] == i`` for an (n, D) ``out`` (zero rows elsewhere).

    A stable sort groups equal indices (rows kept in their original order) and one
    ``np.add.reduceat`` sums each group: vectorised where ``np.add.at`` handles one row per
    inner call (0.11 ms vs 0.83 ms for 2048 rows of 64, the char-LSTM's embedding). NumPy's
    reduction blocks the additions, so the sums differ from ``add.at``'s strictly sequential
    ones in the last bits, and are closer to the exact sum (measured on 10,000 rows into 3:
    error 1.2e-5 vs 2.1e-4 in float32).
    """
    out = np.zeros((n, g2.shape[1]), dtype=g2.dtype)
    if flat.size == 0:
        return out
    order = np.argsort(flat, kind="stable")
    s = flat[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    out[s[starts]] = np.add.reduceat(g2[order], starts, axis=0)
    return out


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
        gw = _sum_rows_by_index(flat, g2, w.shape[0])
        if padding_idx is not None:
            gw[padding_idx] = 0.0  # the padding row never learns (torch)
        return (gw,)

    return y, vjp
