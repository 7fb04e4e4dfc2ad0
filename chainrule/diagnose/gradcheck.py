"""``gradcheck``: compare every analytic gradient with float64 central differences.

Works on a plain function or on a whole model. It evaluates a float64 *copy* itself (inputs are
cast, a model is deep-copied and ``.double()``-ed), so float32 user code can be checked as is and
the caller's objects are never touched. It checks the inputs that require grad and every
parameter of a model; ``fast_mode`` replaces the full Jacobian by a random projection
``uᵀ J v`` (one backward and two forwards per checked tensor). A failure report names the tensor,
the index, the analytic and the numeric value, and warns when the point sits on a kink (the two
one-sided differences disagree, so no gradient exists there).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["gradcheck", "GradcheckError", "GradcheckResult", "Mismatch"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numeric one."""


@dataclass
class Mismatch:
    """One disagreeing Jacobian entry: ``d output[out_index] / d tensor[index]``."""

    tensor: str
    index: tuple
    out_index: tuple | None
    analytic: float
    numeric: float
    kink: bool = False
    left: float | None = None  # one-sided differences, filled when checked for a kink
    right: float | None = None

    def __str__(self) -> str:
        idx = f"({', '.join(map(str, self.index))}{',' if len(self.index) == 1 else ''})"
        where = f"{self.tensor} at index {idx}"
        if self.out_index is not None:
            where = f"d output[{', '.join(map(str, self.out_index))}] / d {where}"
        else:
            where = f"uᵀJv for {where}" if self.index else f"uᵀJv for {self.tensor}"
        s = (
            f"{where}: analytic {self.analytic:.8g}, numeric {self.numeric:.8g} "
            f"(difference {abs(self.analytic - self.numeric):.3g})"
        )
        if self.kink:
            s += (
                f"\n    warning: the point sits on a kink — the one-sided differences disagree "
                f"(left {self.left:.6g}, right {self.right:.6g}), so the function has no "
                "derivative there; move the input away from it (e.g. relu/abs/max at 0)"
            )
        return s


@dataclass
class GradcheckResult:
    """What ``gradcheck(..., raise_exception=False)`` returns; truthy when every check passed."""

    ok: bool
    checked: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    max_abs_error: float = 0.0
    fast_mode: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def report(self, limit: int = 10) -> str:
        """A readable report: what was checked, and each mismatch (the first ``limit``)."""
        mode = "random projection uᵀJv" if self.fast_mode else "full Jacobian"
        head = (
            f"gradcheck {'passed' if self.ok else 'FAILED'} ({mode}, float64 central differences)"
            f" on {len(self.checked)} tensor(s): {', '.join(self.checked)}"
        )
        if self.ok:
            return head + f"; max |analytic − numeric| = {self.max_abs_error:.3g}"
        lines = [head, f"{len(self.mismatches)} mismatching entr(y/ies):"]
        lines += [f"  {m}" for m in self.mismatches[:limit]]
        if len(self.mismatches) > limit:
            lines.append(f"  … and {len(self.mismatches) - limit} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _is_module(obj: Any) -> bool:
    return hasattr(obj, "named_parameters") and callable(obj)


def _to_float64_model(model: Any) -> Any:
    """A float64 deep copy of ``model`` (the caller's model is not touched)."""
    m = copy.deepcopy(model)
    if hasattr(m, "double"):
        m.double()
    else:  # a model-like object without Module.double(): cast what it exposes
        for _, p in m.named_parameters():
            p._data = p._data.astype(np.float64)
            p.grad = None
            p._grad_buf = None
    for _, p in m.named_parameters():
        p.grad = None
        p._grad_buf = None
        if p._data.dtype != np.float64:
            p._data = p._data.astype(np.float64)
    for b in getattr(m, "buffers", lambda: [])():
        if b._data.dtype.kind == "f" and b._data.dtype != np.float64:
            b._data = b._data.astype(np.float64)
    return m


def _flat_outputs(out: Any) -> list:
    from .._tensor import Tensor

    if isinstance(out, Tensor):
        return [out] if out._data.dtype.kind == "f" else []
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, list | tuple):
        res = []
        for o in out:
            res.extend(_flat_outputs(o))
        return res
    return []


def gradcheck(
    fn: Callable | Any,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast_mode: bool = False,
    raise_exception: bool = True,
    check_params: bool = True,
    seed: int = 0,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    masked: bool | None = None,
) -> Any:
    """Check the analytic gradients of ``fn`` (a function or a model) at ``inputs``.

    Args:
        fn: a function of tensors, or a model (``nn.Module``); a model is deep-copied and cast to
            float64, its parameters are checked too (``check_params``).
        inputs: a Tensor or a tuple of them. Inputs with ``requires_grad=True`` are checked; if
            none requires grad and there are no parameters, every float input is checked. Other
            arguments (integer indices, Python numbers) are passed through unchanged.
        eps: the finite-difference step (in float64).
        atol, rtol: an entry fails when ``|analytic − numeric| > atol + rtol·|numeric|``.
        fast_mode: compare a random projection ``uᵀJv`` per tensor instead of the full Jacobian.
        raise_exception: raise ``GradcheckError`` on failure (default); else return the result.
        nondet_tol, check_*: accepted for ``torch.autograd.gradcheck`` compatibility; chainrule
            has first-order reverse mode only (no forward AD, no batched grad), so
            ``check_forward_ad``/``check_batched_grad``/``check_batched_forward_grad`` must stay
            False, and ``nondet_tol`` widens ``atol``.

    Returns:
        ``True`` when every gradient matches (or a ``GradcheckResult`` when
        ``raise_exception=False``; it is truthy exactly when the check passed).

    Raises:
        GradcheckError: naming the tensor, index, analytic and numeric value of each mismatch.
        ValueError: when nothing differentiable is given (e.g. only integer inputs), or when
            ``fn`` gives different outputs for the same inputs (e.g. Dropout in training mode).
    """
    from .. import autograd
    from .._tensor import Tensor

    if eps <= 0:
        raise ValueError(f"gradcheck: eps must be positive, got {eps}")
    unsupported = [
        name
        for name, on in (
            ("check_forward_ad", check_forward_ad),
            ("check_batched_grad", check_batched_grad),
            ("check_batched_forward_grad", check_batched_forward_grad),
        )
        if on
    ]
    if unsupported:
        raise NotImplementedError(
            f"gradcheck: {', '.join(unsupported)}=True needs forward-mode or batched autograd, "
            "which chainrule does not have (first-order reverse mode only, DESIGN.md §2)"
        )
    if not check_backward_ad:
        return True if raise_exception else GradcheckResult(ok=True)
    atol = atol + nondet_tol
    single = isinstance(inputs, Tensor) or not isinstance(inputs, list | tuple)
    inputs = (inputs,) if single else tuple(inputs)

    is_model = _is_module(fn)
    f = _to_float64_model(fn) if is_model else fn

    # Float64 copies of the inputs; decide which are checked.
    xs: list[Any] = []
    names: list[str] = []
    targets: list[Tensor] = []
    for x in inputs:
        if isinstance(x, np.ndarray):
            x = Tensor(x.copy())
        if isinstance(x, Tensor) and x._data.dtype.kind == "f":
            c = Tensor(x._data.astype(np.float64, copy=True))
            c.requires_grad = bool(x.requires_grad)
            xs.append(c)
        else:
            xs.append(x)
    params = [(n, p) for n, p in f.named_parameters() if p.requires_grad] if is_model else []
    if not check_params:
        params = []
    wanted = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wanted and not params:
        wanted = [
            i for i, x in enumerate(xs) if isinstance(x, Tensor) and x._data.dtype.kind == "f"
        ]
        for i in wanted:
            xs[i].requires_grad = True
    if not wanted and not params:
        bad = [
            f"input {i} ({x.dtype})"
            for i, x in enumerate(xs)
            if isinstance(x, Tensor) and x._data.dtype.kind != "f"
        ]
        detail = (
            f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} integer/bool and not "
            "differentiable; gradients exist only for floating point inputs (cast with .double() "
            "if the function is defined on real numbers)"
            if bad
            else "no input is a floating point Tensor"
        )
        raise ValueError(f"gradcheck: nothing to check: {detail}")
    for i in wanted:
        targets.append(xs[i])
        names.append(f"input {i}")
    for n, p in params:
        targets.append(p)
        names.append(f"parameter '{n}'")

    def forward() -> list:
        return _flat_outputs(f(*xs))

    outs = forward()
    if not outs:
        raise ValueError("gradcheck: the function returned no floating point Tensor output")
    out_shapes = [o.shape for o in outs]
    out_sizes = [int(np.prod(s)) for s in out_shapes]
    m = sum(out_sizes)
    # Finite differences assume the same input gives the same output. A random function (a
    # model with Dropout in training mode) would show up as a bogus "mismatch at a kink".
    first = np.concatenate([np.asarray(o._data, np.float64).ravel() for o in outs])
    again = np.concatenate([np.asarray(o._data, np.float64).ravel() for o in forward()])
    spread = float(np.max(np.abs(first - again), initial=0.0))
    if first.shape != again.shape or spread > nondet_tol:
        raise ValueError(
            "gradcheck: the function is not deterministic: two evaluations at the same point "
            f"differ (max difference {spread:.3g}); a model with Dropout or another random "
            "layer in training mode? Call model.eval() first, or raise nondet_tol"
        )

    def out_vector() -> np.ndarray:
        with autograd.no_grad():
            os_ = forward()
        return np.concatenate([np.asarray(o._data, np.float64).ravel() for o in os_])

    def out_index(k: int) -> tuple:
        for s, sz in zip(out_shapes, out_sizes):
            if k < sz:
                return tuple(int(v) for v in np.unravel_index(k, s)) if s else ()
            k -= sz
        return (k,)

    def analytic_vjp(u: np.ndarray) -> list:
        """uᵀJ for every target (zeros where unused)."""
        os_ = forward()
        gos, off, keep = [], 0, []
        for o, sz in zip(os_, out_sizes):
            if o.requires_grad:
                gos.append(Tensor(u[off : off + sz].reshape(o.shape).astype(o._data.dtype)))
                keep.append(o)
            off += sz
        if not keep:
            return [np.zeros(t.shape) for t in targets]
        gs = autograd.grad(keep, targets, gos, allow_unused=True)
        return [
            np.zeros(t.shape) if g is None else np.asarray(g._data, np.float64)
            for g, t in zip(gs, targets)
        ]

    def numeric_column(t: Tensor, flat_idx: int, step: float) -> tuple[np.ndarray, np.ndarray]:
        arr = t._data.reshape(-1) if t._data.flags.c_contiguous else None
        if arr is None:
            t._data = np.ascontiguousarray(t._data)
            arr = t._data.reshape(-1)
        orig = arr[flat_idx]
        arr[flat_idx] = orig + step
        plus = out_vector()
        arr[flat_idx] = orig - step
        minus = out_vector()
        arr[flat_idx] = orig
        return plus, minus

    def kink_at(t: Tensor, flat_idx: int, k: int) -> tuple[bool, float, float]:
        center = out_vector()[k]
        plus, minus = numeric_column(t, flat_idx, eps)
        right = (plus[k] - center) / eps
        left = (center - minus[k]) / eps
        tol = atol + rtol * max(abs(left), abs(right))
        return bool(abs(right - left) > 10 * tol), float(left), float(right)

    result = GradcheckResult(ok=True, checked=list(names), fast_mode=fast_mode)
    rng = np.random.default_rng(seed)

    row_cache: dict[int, list] = {}  # output index -> uᵀJ for every target (one backward each)

    def full_check(ti: int, t: Tensor) -> None:
        n = t.numel()
        jac_a = np.zeros((m, n))
        for k in range(m):
            if k not in row_cache:
                u = np.zeros(m)
                u[k] = 1.0
                row_cache[k] = analytic_vjp(u)
            jac_a[k] = row_cache[k][ti].ravel()
        for j in range(n):
            plus, minus = numeric_column(t, j, eps)
            col = (plus - minus) / (2 * eps)
            diff = np.abs(jac_a[:, j] - col)
            bad = diff > atol + rtol * np.abs(col)
            if diff.size:
                result.max_abs_error = max(result.max_abs_error, float(diff.max()))
            for k in np.flatnonzero(bad):
                idx = tuple(int(v) for v in np.unravel_index(j, t.shape)) if t.shape else ()
                mm = Mismatch(names[ti], idx, out_index(int(k)), float(jac_a[k, j]), float(col[k]))
                mm.kink, mm.left, mm.right = kink_at(t, j, int(k))
                result.mismatches.append(mm)

    if not fast_mode:
        for ti, t in enumerate(targets):
            full_check(ti, t)
    else:
        u = rng.standard_normal(m)
        ga = analytic_vjp(u)
        for ti, t in enumerate(targets):
            v = rng.standard_normal(t.shape)
            analytic = float((ga[ti] * v).sum())
            saved = t._data.copy()
            t._data = saved + eps * v
            plus = out_vector()
            t._data = saved - eps * v
            minus = out_vector()
            t._data = saved
            numeric = float(u @ (plus - minus) / (2 * eps))
            err = abs(analytic - numeric)
            result.max_abs_error = max(result.max_abs_error, err)
            if err > atol + rtol * abs(numeric):
                # Locate the failing entries with the full Jacobian when it is affordable.
                before = len(result.mismatches)
                if t.numel() * m <= 20000:
                    full_check(ti, t)
                if len(result.mismatches) == before:
                    result.mismatches.append(Mismatch(names[ti], (), None, analytic, numeric))
    result.ok = not result.mismatches
    if not result.ok and raise_exception:
        raise GradcheckError("Jacobian mismatch\n" + result.report())
    return True if result.ok and raise_exception else result
