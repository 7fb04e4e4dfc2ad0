"""Fused linear layer: ``y = x @ Wᵀ + b`` as one node (PyTorch weight layout: (out, in))."""

from __future__ import annotations

import numpy as np

from .._registry import op, with_backward_name


@op("linear", formula="x̄ = ȳ·W,  W̄ = ȳᵀ·x,  b̄ = Σ ȳ", onnx="Gemm", backward_name="AddmmBackward0")
def linear(x, w, b=None):
    """``x`` (*, in), ``w`` (out, in), ``b`` (out,) or None → (*, out).

    The VJP skips the GEMM of any input that does not need a gradient (the first layer's
    ``x̄``, frozen weights), which is a real saving on CPU.
    """
    if x.ndim == 2:
        # the usual (batch, in) case, written out: small models pay per Python operation
        y = x @ w.T
        if b is not None:
            y += b

        def vjp2(g, needs):
            # np.add.reduce is what ndarray.sum calls, minus its Python wrapper
            return (
                g @ w if needs[0] else None,
                g.T @ x if needs[1] else None,
                np.add.reduce(g, axis=0) if b is not None and needs[2] else None,
            )

        return y, vjp2
    # (*, in) inputs run as ONE (rows, in) GEMM: NumPy's matmul on a 3-D operand loops over
    # the leading dim with a small GEMM each, which is many times slower.
    x2 = x.reshape(-1, x.shape[-1])  # (rows, in); kept for W̄ (1-D x: one row)
    y = x2 @ w.T
    if b is not None:
        y += b  # y is a fresh array: add in place, no temporary
    y = y.reshape(*x.shape[:-1], w.shape[0])

    def vjp(g, needs):
        gx = gw = gb = None
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        if needs[0]:
            gx = g2 @ w if g.ndim > 2 else g @ w
            if g.ndim > 2:
                gx = gx.reshape(x.shape)
        if needs[1]:
            gw = g2.T @ x2  # the forward's (rows, in) operand: a non-contiguous x is copied once
        if b is not None and needs[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb

    return y, vjp


@op("bilinear", formula="x̄₁ = ȳ·W·x₂,  x̄₂ = ȳ·Wᵀ·x₁,  W̄ = Σ ȳ⊗x₁⊗x₂,  b̄ = Σ ȳ")
def bilinear(x1, x2, w, b=None):
    """``y[..., o] = Σᵢⱼ x1[..., i] W[o, i, j] x2[..., j] + b[o]``; ``w`` is (out, in1, in2)."""
    lead = x1.shape[:-1]
    a = x1.reshape(-1, x1.shape[-1])
    c = x2.reshape(-1, x2.shape[-1])
    # (n, in1) · (out, in1, in2) → (n, out, in2), then contract in2 with x2.
    t = np.einsum("ni,oij->noj", a, w, optimize=True)
    y = np.einsum("noj,nj->no", t, c, optimize=True)
    if b is not None:
        y += b

    def vjp(g, needs):
        g2 = g.reshape(-1, g.shape[-1])
        gx1 = gx2 = gw = gb = None
        if needs[0]:
            gx1 = np.einsum("no,oij,nj->ni", g2, w, c, optimize=True).reshape(*lead, -1)
        if needs[1]:
            gx2 = np.einsum("no,noj->nj", g2, t, optimize=True).reshape(*lead, -1)
        if needs[2]:
            gw = np.einsum("no,ni,nj->oij", g2, a, c, optimize=True)
        if b is not None and needs[3]:
            gb = g2.sum(axis=0)
        return gx1, gx2, gw, gb

    return y.reshape(*lead, -1), vjp


def _linear_chain(x, *wb, relu=()):
    """Layers ``(W_k, b_k)`` applied in turn, each followed by ReLU where ``relu[k]``.

    The same NumPy calls as ``linear`` and ``relu`` one after the other (so the same numbers to
    the last bit), recorded as ONE node: a Sequential MLP pays the per-op cost of the engine once
    instead of twice per layer, which is most of a small model's step.
    """
    n = len(relu)
    saved = []  # (layer input, layer output if ReLU follows, else None)
    h = x
    for k in range(n):
        w, b = wb[2 * k], wb[2 * k + 1]
        y = h @ w.T
        if b is not None:
            y += b
        if relu[k]:
            y = np.maximum(y, 0.0)
            saved.append((h, y))
        else:
            saved.append((h, None))
        h = y

    def vjp(g, needs):
        grads = [None] * (2 * n + 1)
        own = False  # g is an array this VJP made (not the caller's): mask it in place
        for k in range(n - 1, -1, -1):
            hk, yk = saved[k]
            if yk is not None:
                if own:
                    g *= yk > 0
                else:
                    g = g * (yk > 0)
            w, b = wb[2 * k], wb[2 * k + 1]
            if needs[2 * k + 1]:
                grads[2 * k + 1] = g.T @ hk
            if b is not None and needs[2 * k + 2]:
                grads[2 * k + 2] = np.add.reduce(g, axis=0)
            if k or needs[0]:
                g = g @ w
                own = True
        grads[0] = g if needs[0] else None
        return tuple(grads)

    return h, vjp


linear_chain = op(
    "linear_chain",
    formula="per layer, last first: ȳ ← ȳ·[y > 0] after a ReLU; W̄ = ȳᵀ·x, b̄ = Σ ȳ, x̄ = ȳ·W",
    backward_name="AddmmBackward0",
)(_linear_chain)


# a stack ending in a ReLU: torch's graph would end in ReluBackward0
linear_relu_chain = with_backward_name(linear_chain, "ReluBackward0")
