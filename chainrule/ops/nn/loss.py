"""Fused losses, each one node with a closed-form VJP, reducing exactly as torch does.

``reduction``: ``'none'`` keeps per-element losses, ``'sum'`` adds them, ``'mean'`` divides the sum
by the element count, except where torch defines a weighted mean: ``nll_loss`` /
``cross_entropy`` with class indices divide by Σ weight[target] over non-ignored targets.
Inputs reach these ops already validated by ``nn.functional``.
"""

from __future__ import annotations

import numpy as np

from .._registry import op


def _reduce(loss: np.ndarray, reduction: str, denom: float | None = None) -> np.ndarray:
    if reduction == "none":
        return loss
    s = np.add.reduce(loss, axis=None)  # = loss.sum(), minus its Python wrapper
    if reduction == "sum":
        return np.asarray(s, dtype=loss.dtype)
    n = loss.size if denom is None else denom
    if n == 0:  # torch: the mean over nothing is nan (no warning)
        return np.asarray(np.nan, dtype=loss.dtype)
    return np.asarray(s / n, dtype=loss.dtype)


def _grad_scale(g: np.ndarray, reduction: str, shape: tuple, denom: float | None = None):
    """The upstream gradient seen by each element of the unreduced loss: ``g`` itself for
    'none', else a 0-d factor (ḡ or ḡ/n) that broadcasts in the VJP's products."""
    if reduction == "none":
        return g
    if reduction == "sum":
        return g
    n = int(np.prod(shape)) if denom is None else denom
    if n == 0:
        return np.full_like(g, np.nan)
    return g / n


def _rows(gl: np.ndarray) -> np.ndarray:
    """A per-row factor as a column (N, 1); a 0-d factor stays 0-d."""
    return gl.reshape(-1, 1) if gl.ndim else gl


def _classes_last(x: np.ndarray) -> np.ndarray:
    """(N, C, d1, …) → (N·d1·…, C); (N, C) and (C,) → (·, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(a: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of ``_classes_last``."""
    if len(shape) <= 2:
        return a.reshape(shape)
    moved = (shape[0], *shape[2:], shape[1])
    return np.moveaxis(a.reshape(moved), -1, 1)


_ARANGE: dict[int, np.ndarray] = {}


def _arange(n: int) -> np.ndarray:
    """A read-only ``arange(n)`` for row indexing, made once per batch size."""
    r = _ARANGE.get(n)
    if r is None:
        if len(_ARANGE) > 64:
            _ARANGE.clear()
        r = np.arange(n)
        r.flags.writeable = False
        _ARANGE[n] = r
    return r


def _log_softmax_rows(z: np.ndarray) -> np.ndarray:
    # the ufunc reductions ndarray.max/.sum call, without their Python wrappers (same result)
    shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))


@op(
    "cross_entropy",
    formula="x̄ = ḡ · (softmax(x) · Σ c − c),  c = (1−ε)·w_t·onehot(t) + ε/C·w",
    backward_name="NllLossBackward0",
)
def cross_entropy(
    x,
    target=None,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    targets_checked=False,
):
    """Cross-entropy with class-index targets: log_softmax and nll in one node.

    The loss of row i is Σ_c c_ic · (−log p_ic) with c_i = (1−ε)·w[t_i]·onehot(t_i) + (ε/C)·w,
    rows with t_i = ignore_index weigh 0; 'mean' divides by Σ_i w[t_i] over kept rows (torch).
    """
    shape = x.shape
    z = _classes_last(x)
    n_cls = z.shape[1]
    t = target.reshape(-1)
    logp = _log_softmax_rows(z)
    rows = _arange(z.shape[0])
    # targets_checked: the caller verified every target is a class in [0, C), so an
    # ignore_index outside [0, C) ignores no row (skips two NumPy calls per step)
    keep = None
    if not targets_checked or 0 <= ignore_index < n_cls:
        keep = t != ignore_index
    if weight is None and label_smoothing == 0.0 and (keep is None or keep.all()):
        # the common case (unit weights, nothing ignored): the general formulas below with
        # w_t = 1, minus the NumPy calls that build and apply all-ones weights (same numbers)
        out_shape = target.shape
        if reduction == "mean" and len(shape) == 2 and t.size:
            # the classifier's step, written out: one row per sample, 0-d result
            n = float(t.size)
            picked = logp[rows, t]
            y = np.asarray(-np.add.reduce(picked) / n, dtype=z.dtype)

            def vjp_mean(g, needs):
                gz = np.exp(logp)
                gz[rows, t] -= 1.0
                gz *= g / n
                return (gz,)

            return y, vjp_mean
        loss = -logp[rows, t]
        denom = float(t.size) if reduction == "mean" else None
        y = _reduce(loss.reshape(out_shape), reduction, denom)

        def vjp_plain(g, needs):
            gz = np.exp(logp)
            gz[rows, t] -= 1.0
            gz *= _rows(_grad_scale(g, reduction, out_shape, denom))
            return (_classes_back(gz, shape),)

        return y, vjp_plain
    if keep is None:
        keep = np.ones(t.shape, bool)
    t_safe = np.where(keep, t, 0)
    w_t = weight[t_safe] if weight is not None else np.ones(t.shape, z.dtype)
    w_t = np.where(keep, w_t, 0.0).astype(z.dtype, copy=False)
    loss = -w_t * logp[rows, t_safe]
    eps = label_smoothing
    if eps > 0.0:
        wl = logp * weight if weight is not None else logp
        smooth = -wl.sum(axis=1) * keep
        loss = (1.0 - eps) * loss + (eps / n_cls) * smooth
    loss = loss.astype(z.dtype, copy=False)
    denom = float(w_t.sum()) if reduction == "mean" else None
    out_shape = target.shape
    y = _reduce(loss.reshape(out_shape), reduction, denom)

    def vjp(g, needs):
        gl = _rows(_grad_scale(g, reduction, out_shape, denom))
        p = np.exp(logp)
        if eps == 0.0:
            # c has one nonzero per row (w_t at the target), so Σ c = w_t: no dense c needed
            gz = p * w_t[:, None]
            gz[rows, t_safe] -= w_t
            gz *= gl
            gz[~keep] = 0.0  # ignored rows: 0 even when gl is nan (mean over no targets; torch)
            return (_classes_back(gz, shape),)
        coef = np.zeros_like(z)
        coef[rows, t_safe] = (1.0 - eps) * w_t
        wvec = weight if weight is not None else 1.0
        coef += (eps / n_cls) * wvec * keep[:, None]
        gz = (p * coef.sum(axis=1, keepdims=True) - coef) * gl
        gz[~keep] = 0.0
        return (_classes_back(gz, shape),)

    return y, vjp


@op(
    "cross_entropy_probs",
    formula="x̄ = ḡ · (softmax(x) · Σ c − c),  c = w·q;  q̄ = −ḡ · (1−ε) · w · log softmax(x)",
)
def cross_entropy_probs(x, q, weight=None, reduction="mean", label_smoothing=0.0):
    """Cross-entropy with class-probability targets ``q`` (same shape as ``x``).

    ``q`` is smoothed to (1−ε)·q + ε/C; 'mean' divides by the number of rows (torch).
    """
    shape = x.shape
    z = _classes_last(x)
    qz = _classes_last(q)
    n_cls = z.shape[1]
    eps = label_smoothing
    qs = qz * (1.0 - eps) + eps / n_cls if eps > 0.0 else qz
    logp = _log_softmax_rows(z)
    wq = qs * weight if weight is not None else qs
    loss = -(wq * logp).sum(axis=1).astype(z.dtype, copy=False)
    out_shape = (shape[0], *shape[2:]) if len(shape) > 1 else ()
    denom = float(z.shape[0]) if reduction == "mean" else None
    y = _reduce(loss.reshape(out_shape), reduction, denom)

    def vjp(g, needs):
        gl = _rows(_grad_scale(g, reduction, out_shape, denom))
        gx = gq = None
        if needs[0]:
            p = np.exp(logp)
            gx = _classes_back((p * wq.sum(axis=1, keepdims=True) - wq) * gl, shape)
        if needs[1]:
            wl = logp * weight if weight is not None else logp
            gq = _classes_back(-(1.0 - eps) * wl * gl, shape)
        return gx, gq

    return y, vjp


@op("nll_loss", formula="x̄[i, tᵢ] = −ḡ · w[tᵢ]  (/ Σ w[t] for 'mean')")
def nll_loss(x, target=None, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``x`` (N, C, …) at class indices ``target``."""
    shape = x.shape
    z = _classes_last(x)
    t = target.reshape(-1)
    keep = t != ignore_index
    t_safe = np.where(keep, t, 0)
    rows = np.arange(z.shape[0])
    w_t = weight[t_safe] if weight is not None else np.ones(t.shape, z.dtype)
    w_t = np.where(keep, w_t, 0.0).astype(z.dtype, copy=False)
    loss = (-w_t * z[rows, t_safe]).astype(z.dtype, copy=False)
    denom = float(w_t.sum()) if reduction == "mean" else None
    out_shape = target.shape
    y = _reduce(loss.reshape(out_shape), reduction, denom)

    def vjp(g, needs):
        gl = _grad_scale(g, reduction, out_shape, denom)
        gl = gl.reshape(-1) if gl.ndim else gl
        gz = np.zeros_like(z)
        gz[rows, t_safe] = -w_t * gl
        gz[~keep] = 0.0  # ignored rows: 0 even when gl is nan (mean over no targets; torch)
        return (_classes_back(gz, shape),)

    return y, vjp


@op("mse_loss", formula="x̄ = ḡ · 2(x − y),  ȳ = −x̄", onnx=None)
def mse_loss(x, t, reduction="mean"):
    d = x - t
    y = _reduce(d * d, reduction)

    def vjp(g, needs):
        gd = 2.0 * d * _grad_scale(g, reduction, d.shape)
        return (gd if needs[0] else None, -gd if needs[1] else None)

    return y, vjp


@op("l1_loss", formula="x̄ = ḡ · sign(x − y),  ȳ = −x̄")
def l1_loss(x, t, reduction="mean"):
    d = x - t
    y = _reduce(np.abs(d), reduction)

    def vjp(g, needs):
        gd = np.sign(d) * _grad_scale(g, reduction, d.shape)  # sign(0) = 0, as torch
        return (gd if needs[0] else None, -gd if needs[1] else None)

    return y, vjp


@op("smooth_l1_loss", formula="x̄ = ḡ · (d/β if |d| < β else sign(d)),  d = x − y")
def smooth_l1_loss(x, t, reduction="mean", beta=1.0):
    d = x - t
    ad = np.abs(d)
    if beta == 0.0:  # torch: smooth_l1 with beta 0 is exactly l1
        loss = ad
    else:
        loss = np.where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta)
    y = _reduce(loss.astype(d.dtype, copy=False), reduction)

    def vjp(g, needs):
        slope = np.sign(d) if beta == 0.0 else np.where(ad < beta, d / beta, np.sign(d))
        gd = slope * _grad_scale(g, reduction, d.shape)
        return (gd if needs[0] else None, -gd if needs[1] else None)

    return y, vjp


@op("huber_loss", formula="x̄ = ḡ · (d if |d| ≤ δ else δ·sign(d)),  d = x − y")
def huber_loss(x, t, reduction="mean", delta=1.0):
    d = x - t
    ad = np.abs(d)
    loss = np.where(ad <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    y = _reduce(loss.astype(d.dtype, copy=False), reduction)

    def vjp(g, needs):
        slope = np.where(ad <= delta, d, delta * np.sign(d))
        gd = slope * _grad_scale(g, reduction, d.shape)
        return (gd if needs[0] else None, -gd if needs[1] else None)

    return y, vjp


@op("binary_cross_entropy", formula="x̄ = ḡ · w(x − y) / max(x(1 − x), 1e-12)")
def binary_cross_entropy(x, t, weight=None, reduction="mean"):
    """BCE on probabilities; logs are clamped at −100 as torch does (no inf for x = 0 or 1)."""
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
    loss = -(t * log_x + (1.0 - t) * log_1mx)
    if weight is not None:
        loss = loss * weight
    y = _reduce(loss.astype(x.dtype, copy=False), reduction)

    def vjp(g, needs):
        gl = _grad_scale(g, reduction, x.shape)
        if weight is not None:
            gl = gl * weight
        gx = gt = None
        if needs[0]:
            gx = gl * (x - t) / np.maximum(x * (1.0 - x), 1e-12)
        if needs[1]:
            # torch's target gradient uses the unclamped logs (±inf at x = 0 or 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = gl * (np.log1p(-x) - np.log(x))
        return gx, gt

    return y, vjp


@op(
    "binary_cross_entropy_with_logits",
    formula="x̄ = ḡ · w((1 − y) − l·σ(−x)),  l = 1 + (pos_weight − 1)·y",
)
def binary_cross_entropy_with_logits(x, t, weight=None, pos_weight=None, reduction="mean"):
    """``(1 − y)·x + l·softplus(−x)``, stable for any logit (softplus via log1p(e^{−|x|}))."""
    sp = np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(x)))  # softplus(−x)
    lw = 1.0 + (pos_weight - 1.0) * t if pos_weight is not None else None
    loss = (1.0 - t) * x + (lw * sp if lw is not None else sp)
    if weight is not None:
        loss = loss * weight
    y = _reduce(loss.astype(x.dtype, copy=False), reduction)

    def vjp(g, needs):
        gl = _grad_scale(g, reduction, loss.shape)
        if weight is not None:
            gl = gl * weight
        gx = gt = None
        if needs[0]:
            e = np.exp(-np.abs(x))
            sig_neg = np.where(x >= 0, e / (1.0 + e), 1.0 / (1.0 + e))  # σ(−x)
            gx = gl * ((1.0 - t) - (lw if lw is not None else 1.0) * sig_neg)
        if needs[1]:
            gt = gl * (-x + ((pos_weight - 1.0) * sp if pos_weight is not None else 0.0))
        return gx, gt

    return y, vjp


@op("kl_div", formula="x̄ = −ḡ · y  (−ḡ · eʸ with log_target)")
def kl_div(x, t, reduction="mean", log_target=False):
    """KL divergence with ``x`` = log-probabilities; 'batchmean' divides the sum by x.shape[0]."""
    if log_target:
        et = np.exp(t)
        loss = et * (t - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            # xlogy: 0 · log 0 = 0
            tlogt = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0)
        loss = tlogt - t * x
    loss = loss.astype(x.dtype, copy=False)
    if reduction == "batchmean":
        denom = float(x.shape[0]) if x.ndim else 1.0
        y = _reduce(loss, "mean", denom)
        red = "mean"
    else:
        denom = None
        y = _reduce(loss, reduction)
        red = reduction

    def vjp(g, needs):
        gl = _grad_scale(g, red, loss.shape, denom)
        gx = gt = None
        if needs[0]:
            gx = -gl * (et if log_target else t)
        if needs[1]:
            if log_target:
                gt = gl * et * (t - x + 1.0)
            else:
                with np.errstate(divide="ignore"):
                    gt = gl * (np.log(t) + 1.0 - x)
        return gx, gt

    return y, vjp
