"""Linear algebra: matmul, einsum, outer."""

from __future__ import annotations

import numpy as np

from ._registry import op


@op(
    "matmul",
    formula="Ā = Ḡ·Bᵀ,  B̄ = Aᵀ·Ḡ",
    onnx="MatMul",
    promote=True,
    backward_name="MmBackward0",
)
def matmul(a, b):
    out = np.matmul(a, b)

    def vjp(g, needs):
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the shape bookkeeping
            return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # ȳ in the shape of a2 @ b2 (1-D operands were promoted to matrices)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if needs[0]:
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            ga = _reduce_batch(ga, a2.shape)
            ga = ga.reshape(a.shape)
        if needs[1]:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            gb = _reduce_batch(gb, b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb

    return out, vjp


def _reduce_batch(g: np.ndarray, shape: tuple) -> np.ndarray:
    from ..autograd.engine import sum_to_shape

    return sum_to_shape(g, shape) if g.shape != shape else g


def _parse(equation: str, operands: tuple) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs = eq
        letters = lhs.replace(",", "").replace("...", "")
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1)
        )
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(
            f"einsum(): the equation {equation!r} names {len(ins)} operands "
            f"but {len(operands)} were given"
        )
    return ins, rhs


@op("einsum", formula="x̄ᵢ = einsum(ȳ, the other operands)", onnx="Einsum")
def einsum(*xs, equation=""):
    ins, rhs = _parse(equation, xs)
    out = np.einsum(f"{','.join(ins)}->{rhs}", *xs, optimize=len(xs) > 2)

    def vjp(g, needs):
        grads = []
        for i, x in enumerate(xs):
            if not needs[i]:
                grads.append(None)
                continue
            sub = ins[i]
            others = [ins[j] for j in range(len(xs)) if j != i]
            ops_ = [xs[j] for j in range(len(xs)) if j != i]
            if len(set(sub.replace("...", ""))) != len(sub.replace("...", "")):
                grads.append(_einsum_repeated_grad(g, rhs, others, ops_, sub, x))
                continue
            # Letters of x that appear nowhere else were summed away: broadcast them back.
            avail = set(rhs + "".join(others))
            missing = [c for c in sub.replace("...", "") if c not in avail]
            gx = np.einsum(
                f"{','.join([rhs] + others)}->{''.join(c for c in sub if c not in missing)}",
                g,
                *ops_,
                optimize=len(ops_) > 1,
            )
            if missing:
                shape = []
                letters = sub.replace("...", "")
                for c in letters:
                    shape.append(1 if c in missing else -1)
                kept = [c for c in sub if c not in missing]
                gx = np.expand_dims(gx, [sub.index(c) for c in missing]) if kept else gx
                gx = np.broadcast_to(gx, x.shape)
            # ellipsis dims that x was broadcast along are summed away here
            grads.append(_reduce_batch(gx, x.shape))
        return tuple(grads)

    return out, vjp


def _einsum_repeated_grad(g, rhs, others, ops_, sub, x):
    """Gradient for an operand with a repeated letter (a diagonal, e.g. ``ii->i``)."""
    uniq = "".join(dict.fromkeys(sub))
    avail = set(rhs + "".join(others))
    keep = "".join(c for c in uniq if c in avail)
    gu = np.einsum(f"{','.join([rhs] + others)}->{keep}", g, *ops_)
    if keep != uniq:  # letters summed away (a trace, 'ii->'): broadcast the gradient back
        gu = np.expand_dims(gu, [k for k, c in enumerate(uniq) if c not in avail])
        gu = np.broadcast_to(gu, [x.shape[sub.index(c)] for c in uniq])
    gx = np.zeros(x.shape, dtype=g.dtype)
    idx = np.indices(gu.shape)
    pos = {c: k for k, c in enumerate(uniq)}
    np.add.at(gx, tuple(idx[pos[c]] for c in sub), gu)
    return gx


@op("outer", formula="x̄ = ȳ·v,  v̄ = ȳᵀ·x", promote=True, backward_name="MulBackward0")
def outer(x, v):
    # NOTE: torch computes outer as x[:, None] * v, hence its grad_fn name MulBackward0
    def vjp(g, needs):
        return (g @ v if needs[0] else None), (x @ g if needs[1] else None)

    return np.outer(x, v), vjp
