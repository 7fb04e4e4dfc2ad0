"""Gradient-checking helpers: float64 central differences against chainrule's backward.

``check_grads(fn, arrays)`` runs ``fn`` on float64 tensors built from ``arrays`` and compares
the analytic VJPs with central differences (DESIGN §5.1): the full Jacobian when the problem is
small, the random-projection identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩ when it is large. Failures raise
``AssertionError`` naming the input, the index and both values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule as cr

EPS = 1e-6
# why: tighter than torch.autograd.gradcheck's (1e-5, 1e-3): float64 central differences with
# eps = 1e-6 are good to ~1e-9 relative, and a VJP that is off by 0.1% must fail (see test_checker).
ATOL = 1e-6
RTOL = 1e-4
FULL_LIMIT = 200  # n_in * n_out at or below this: full Jacobian


def float_outputs(out: Any) -> list:
    """The differentiable (floating) outputs of an op call, as a list of tensors."""
    outs = list(out) if isinstance(out, tuple | list) else [out]
    return [o for o in outs if isinstance(o, cr.Tensor) and o.is_floating_point()]


def _forward(fn: Callable, arrays: Sequence[np.ndarray], diff: Sequence[bool]) -> np.ndarray:
    """``fn`` on fresh float64 tensors, outputs flattened and concatenated (no graph)."""
    with cr.no_grad():
        ts = [cr.tensor(a) for a in arrays]
        outs = float_outputs(fn(*ts))
    return np.concatenate([o.numpy().astype(np.float64).ravel() for o in outs])


def _vjp(
    fn: Callable, arrays: Sequence[np.ndarray], diff: Sequence[bool], u: np.ndarray
) -> list[np.ndarray]:
    """Jᵀu for every differentiable input (zeros where unused), via chainrule's backward."""
    ts = [cr.tensor(a, requires_grad=bool(d)) for a, d in zip(arrays, diff)]
    outs = float_outputs(fn(*ts))
    grads_out, start = [], 0
    for o in outs:
        grads_out.append(cr.tensor(u[start : start + o.numel()].reshape(o.shape)))
        start += o.numel()
    wanted = [t for t, d in zip(ts, diff) if d]
    used = [o for o in outs if o.requires_grad]
    if not used:
        return [np.zeros(t.shape) for t in wanted]
    gos = [g for g, o in zip(grads_out, outs) if o.requires_grad]
    got = cr.autograd.grad(used, wanted, gos, allow_unused=True)
    result = []
    for t, g in zip(wanted, got):
        if g is None:
            result.append(np.zeros(t.shape))
            continue
        assert g.shape == t.shape, f"gradient shape {g.shape} != input shape {t.shape}"
        assert g.dtype == t.dtype, f"gradient dtype {g.dtype} != input dtype {t.dtype}"
        result.append(g.numpy().astype(np.float64))
    return result


def numerical_jacobian(
    fn: Callable, arrays: Sequence[np.ndarray], index: int, eps: float = EPS
) -> np.ndarray:
    """Central-difference Jacobian (n_out, n_in) of the flat outputs w.r.t. input ``index``."""
    base = [np.array(a, dtype=np.float64) for a in arrays]
    x = base[index]
    cols = []
    for k in range(x.size):
        plus = [b.copy() for b in base]
        minus = [b.copy() for b in base]
        plus[index].reshape(-1)[k] += eps
        minus[index].reshape(-1)[k] -= eps
        cols.append((_forward(fn, plus, ()) - _forward(fn, minus, ())) / (2 * eps))
    n_out = _forward(fn, base, ()).size
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def _close(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    return np.abs(a - n) <= atol + rtol * np.abs(n)


def check_grads(
    fn: Callable,
    arrays: Sequence[np.ndarray],
    diff: Sequence[bool] | None = None,
    *,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    mode: str = "auto",
    n_proj: int = 3,
    seed: int = 0,
) -> None:
    """Assert that chainrule's gradients of ``fn`` match float64 central differences.

    Args:
        fn: takes chainrule tensors (one per array) and returns a tensor or a tuple.
        arrays: the inputs; float inputs are checked in float64, others passed through.
        diff: which inputs to differentiate (default: every floating input).
        mode: "full" (every Jacobian entry), "proj" (random projections) or "auto".
    """
    arrays = [
        np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
        for a in arrays
    ]
    if diff is None:
        diff = [a.dtype.kind == "f" for a in arrays]
    y = _forward(fn, arrays, diff)
    n_in = sum(a.size for a, d in zip(arrays, diff) if d)
    if mode == "auto":
        mode = "full" if n_in * max(y.size, 1) <= FULL_LIMIT else "proj"
    which = [i for i, d in enumerate(diff) if d]
    if mode == "full":
        analytic = {i: np.zeros((y.size, arrays[i].size)) for i in which}
        for r in range(y.size):
            u = np.zeros(y.size)
            u[r] = 1.0
            for i, g in zip(which, _vjp(fn, arrays, diff, u)):
                analytic[i][r] = g.ravel()
        for i in which:
            num = numerical_jacobian(fn, arrays, i, eps)
            ok = _close(analytic[i], num, atol, rtol)
            if not ok.all():
                r, c = np.argwhere(~ok)[0]
                raise AssertionError(
                    f"gradcheck failed for input {i} (shape {arrays[i].shape}): d out[{r}] / "
                    f"d in[{np.unravel_index(c, arrays[i].shape)}]: analytic {analytic[i][r, c]!r}"
                    f" vs numerical {num[r, c]!r} ({int((~ok).sum())} of {ok.size} entries differ)"
                )
        return
    rng = np.random.default_rng(seed)
    for _ in range(n_proj):
        u = rng.standard_normal(y.size)
        vs = [rng.standard_normal(arrays[i].shape) for i in which]
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        for i, v in zip(which, vs):
            plus[i] += eps * v
            minus[i] -= eps * v
        jv = (_forward(fn, plus, diff) - _forward(fn, minus, diff)) / (2 * eps)
        lhs = float(u @ jv)
        grads = _vjp(fn, arrays, diff, u)
        rhs = float(sum((g * v).sum() for g, v in zip(grads, vs)))
        if not abs(lhs - rhs) <= atol * np.sqrt(y.size) + rtol * abs(lhs):
            raise AssertionError(
                f"gradcheck (random projection) failed: <u, J v> = {lhs!r} (numerical) but "
                f"<Jᵀu, v> = {rhs!r} (analytic)"
            )


def assert_close(
    actual: Any, expected: Any, *, rtol: float = 1e-7, atol: float = 0.0, what: str = ""
) -> None:
    """Values equal within tolerance; shapes equal exactly; NaNs must match NaNs."""
    a = np.asarray(actual.detach().numpy() if hasattr(actual, "detach") else actual)
    e = np.asarray(expected.detach().numpy() if hasattr(expected, "detach") else expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    np.testing.assert_allclose(
        a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol, err_msg=what
    )


def to_torch(torch: Any, x: Any, requires_grad: bool = False) -> Any:
    """A torch tensor with the same values and dtype as a chainrule tensor or ndarray."""
    arr = np.array(x.detach().numpy() if isinstance(x, cr.Tensor) else x, copy=True)
    t = torch.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t
