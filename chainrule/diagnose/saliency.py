"""Explainability: gradient saliency, integrated gradients, per-layer attribution, heat maps.

All of them differentiate a *score* — the model's output for the target class of each sample —
with respect to the input (``autograd.grad``, so the model's ``.grad`` fields are not touched).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _plot

__all__ = [
    "saliency",
    "integrated_gradients",
    "layer_attributions",
    "plot_heatmap",
]


def _as_input(x: Any) -> Any:
    from .._tensor import Tensor

    if isinstance(x, np.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"expected the input as a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise TypeError(
            f"attribution needs a floating point input (gradients w.r.t. {x.dtype} do not "
            "exist); for token indices attribute an embedding layer's output instead"
        )
    return x


def _target_classes(target: Any, scores: np.ndarray) -> np.ndarray:
    """The class explained for each of the n samples: the top one of ``scores`` (n, c) for
    ``target=None``, else ``target`` (one int for all, or one per sample)."""
    n = scores.shape[0]
    if target is None:
        return scores.argmax(1)
    if isinstance(target, int | np.integer):
        return np.full(n, int(target))
    idx = np.asarray(getattr(target, "_data", target)).astype(np.int64).reshape(-1)
    return np.full(n, int(idx[0])) if idx.size == 1 else idx


def _score(out: Any, target: Any) -> Any:
    """Sum over the batch of the output picked by ``target`` (a scalar Tensor)."""
    from .._tensor import Tensor

    if callable(target) and not isinstance(target, Tensor):
        s = target(out)
        return s.sum() if s.numel() != 1 else s.reshape(())
    if out.ndim <= 1 or (out.ndim == 2 and out.shape[1] == 1):
        if target not in (None, 0):
            raise ValueError(
                f"target={target!r} given but the model output has shape {tuple(out.shape)} "
                "(one score per sample)"
            )
        return out.sum()
    n, c = out.shape[0], out.shape[1]
    idx = _target_classes(target, out._data.reshape(n, c, -1).sum(-1))
    if idx.size != n:
        raise ValueError(f"target has {idx.size} entries for a batch of {n}")
    if (idx < 0).any() or (idx >= c).any():
        raise IndexError(f"target {idx.tolist()} out of range for {c} outputs")
    mask = np.zeros(out.shape[:2], dtype=out._data.dtype)
    mask[np.arange(n), idx] = 1.0
    mask = mask.reshape(mask.shape + (1,) * (out.ndim - 2))
    return (out * Tensor(mask)).sum()


def _grad_wrt_input(model: Callable, x: Any, target: Any) -> tuple[np.ndarray, Any]:
    from .. import autograd
    from .._tensor import Tensor

    xi = Tensor(x._data.copy())
    xi.requires_grad = True
    with autograd.enable_grad():
        out = model(xi)
        s = _score(out, target)
        (g,) = autograd.grad(s, [xi], allow_unused=True)
    gx = np.zeros_like(x._data) if g is None else g._data
    return gx, out


def saliency(model: Callable, x: Any, target: Any = None, *, abs: bool = True) -> Any:  # noqa: A002
    """Vanilla-gradient saliency: ``|∂ score / ∂ x|`` (Simonyan et al. 2014), same shape as ``x``.

    ``target`` is a class index, one per sample (sequence/Tensor), ``None`` for the predicted
    class, or a callable ``out -> score``. ``abs=False`` keeps the sign.
    """
    from .._tensor import Tensor

    x = _as_input(x)
    g, _ = _grad_wrt_input(model, x, target)
    return Tensor(np.abs(g) if abs else g.copy())


def _ig_class() -> type:
    """Build the Tensor subclass lazily (keeps this module importable without the core)."""
    from .._tensor import Tensor

    class IntegratedGradients(Tensor):
        """Integrated-gradients attributions: a Tensor (shape of ``x``) plus the completeness
        check, so ``ig.sum()``, ``ig.numpy()``, ``ig[0]`` work as on any tensor.

        Extra attributes: ``score_x`` and ``score_baseline`` (per sample); ``delta`` =
        Σ attributions − (score_x − score_baseline) per sample; ``tolerance``; ``complete``
        (every |delta| within tolerance); ``steps``; ``completeness()`` (the text report);
        ``attributions`` (the plain Tensor).
        """

        def completeness(self) -> str:
            """One line per sample: Σ attributions vs f(x) − f(baseline), then the verdict."""
            lines = []
            total = self._data.reshape(len(self.delta), -1).sum(1)
            for i, (t, fx, fb, d) in enumerate(
                zip(total, self.score_x, self.score_baseline, self.delta)
            ):
                lines.append(
                    f"sample {i}: Σ attributions = {t:.6g}, f(x) − f(baseline) = {fx - fb:.6g} "
                    f"({fx:.6g} − {fb:.6g}), delta {d:.3g}"
                )
            verdict = "holds" if self.complete else "FAILS (raise steps)"
            lines.append(f"completeness {verdict} with {self.steps} steps")
            return "\n".join(lines)

        @property
        def attributions(self) -> Tensor:
            return Tensor(self._data)

    return IntegratedGradients


_IG: Any = None


def _make_ig(
    attr: np.ndarray,
    score_x: np.ndarray,
    score_baseline: np.ndarray,
    steps: int,
    rtol: float,
    atol: float,
) -> Any:
    global _IG
    if _IG is None:
        _IG = _ig_class()
    from .._tensor import Tensor

    out = _IG.__new__(_IG)
    Tensor.__init__(out, attr)
    n = score_x.shape[0]
    out.score_x = score_x
    out.score_baseline = score_baseline
    out.delta = attr.reshape(n, -1).sum(1) - (score_x - score_baseline)
    out.steps = steps
    out.tolerance = atol + rtol * np.abs(score_x - score_baseline)
    out.complete = bool((np.abs(out.delta) <= out.tolerance).all())
    return out


def _per_sample_scores(model: Callable, x: Any, target: Any) -> np.ndarray:
    from .. import autograd

    with autograd.no_grad():
        out = model(x)
    o = out._data
    if o.ndim <= 1 or (o.ndim == 2 and o.shape[1] == 1):
        return o.reshape(o.shape[0] if o.ndim else 1).astype(np.float64)
    n, c = o.shape[0], o.shape[1]
    flat = o.reshape(n, c, -1).sum(-1)
    idx = _target_classes(target, flat)
    return flat[np.arange(n), idx].astype(np.float64)


def integrated_gradients(
    model: Callable,
    x: Any,
    target: Any = None,
    baseline: Any = None,
    steps: int = 50,
    *,
    rtol: float = 0.05,
    atol: float = 1e-4,
) -> Any:
    """Integrated gradients (Sundararajan et al. 2017) with the completeness check reported.

    ``attr = (x − baseline) · ∫₀¹ ∂score/∂x (baseline + α(x − baseline)) dα``, the integral by
    the midpoint rule over ``steps`` points. Completeness — Σ attr = score(x) − score(baseline)
    — is checked per sample within ``atol + rtol·|score(x) − score(baseline)|`` and reported
    (``.complete``, ``.delta``, ``.completeness()``). The result is a Tensor of attributions
    (shape of ``x``) carrying those attributes. ``baseline`` defaults to zeros. ``target`` as in
    ``saliency``; ``None`` picks the class predicted for ``x`` (fixed along the path).
    """
    from .._tensor import Tensor

    x = _as_input(x)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"integrated_gradients: steps must be a positive int, got {steps!r}")
    if baseline is None:
        b = np.zeros_like(x._data)
    else:
        b = np.asarray(getattr(baseline, "_data", baseline), dtype=x._data.dtype)
        try:
            b = np.broadcast_to(b, x.shape).copy()
        except ValueError:
            raise ValueError(
                f"baseline of shape {tuple(b.shape)} does not match the input {tuple(x.shape)}"
            ) from None
    if target is None:  # fix the class at the input's prediction, not per path point
        out = _per_sample_scores_raw(model, x)
        if out.ndim >= 2 and not (out.ndim == 2 and out.shape[1] == 1):
            target = out.reshape(out.shape[0], out.shape[1], -1).sum(-1).argmax(1)
    diff = x._data - b
    total = np.zeros(x.shape, dtype=np.float64)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        point = Tensor((b + alpha * diff).astype(x._data.dtype))
        g, _ = _grad_wrt_input(model, point, target)
        total += g
    attr = (diff * total / steps).astype(x._data.dtype)
    fx = _per_sample_scores(model, x, target)
    fb = _per_sample_scores(model, Tensor(b), target)
    return _make_ig(attr, fx, fb, steps, rtol, atol)


def _per_sample_scores_raw(model: Callable, x: Any) -> np.ndarray:
    from .. import autograd

    with autograd.no_grad():
        return model(x)._data


def layer_attributions(model: Any, x: Any, target: Any = None) -> list[dict[str, Any]]:
    """Per-layer summary of gradient × activation for the score (one dict per leaf module).

    For each leaf module's output ``a``: ``sum`` = Σ a·∂score/∂a (how much of the score flows
    through the layer, first-order), ``abs_sum``, ``share`` (abs_sum over the largest layer's)
    and the layer's output shape. Needs an ``nn.Module`` (forward hooks).
    """
    from .. import autograd
    from .._tensor import Tensor

    x = _as_input(x)
    if not hasattr(model, "named_modules"):
        raise TypeError("layer_attributions needs an nn.Module (it uses forward hooks)")
    captured: list[tuple[str, Any]] = []
    handles = []
    for name, mod in model.named_modules():
        if name and not list(mod.children()):

            def hook(m: Any, inp: Any, out: Any, name: str = name) -> None:
                if isinstance(out, Tensor) and out.requires_grad:
                    captured.append((name, out))

            handles.append(mod.register_forward_hook(hook))
    try:
        xi = Tensor(x._data.copy())
        xi.requires_grad = True
        with autograd.enable_grad():
            out = model(xi)
            s = _score(out, target)
            grads = autograd.grad(s, [t for _, t in captured], allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for (name, t), g in zip(captured, grads):
        gv = np.zeros_like(t._data) if g is None else g._data
        prod = t._data.astype(np.float64) * gv
        rows.append(
            {
                "layer": name,
                "shape": tuple(t.shape),
                "sum": float(prod.sum()),
                "abs_sum": float(np.abs(prod).sum()),
            }
        )
    top = max((r["abs_sum"] for r in rows), default=0.0) or 1.0
    for r in rows:
        r["share"] = r["abs_sum"] / top
    return rows


def plot_heatmap(
    attributions: Any,
    input: Any = None,  # noqa: A002 - matches the attribution APIs
    *,
    kind: str = "auto",
    index: int = 0,
    path: Any = None,
    title: str = "attribution",
) -> Any:
    """Heat map of attributions: images (H×W, C×H×W, or a batch of them) or audio/1-D signals.

    Images show the input beside |attribution| summed over channels; signals show the waveform
    coloured by attribution. Returns a matplotlib Figure (needs the ``plot`` extra).
    """
    src = getattr(attributions, "attributions", attributions)
    a = np.asarray(getattr(src, "_data", src), dtype=np.float64)
    x = None if input is None else np.asarray(getattr(input, "_data", input), dtype=np.float64)
    if kind == "auto":
        # 1-D (or channels × time) is a signal; anything with two spatial axes is an image.
        kind = "image" if a.ndim >= 3 or (a.ndim == 2 and min(a.shape) > 3) else "signal"
    if kind not in ("image", "signal"):
        raise ValueError(f"kind must be 'auto', 'image' or 'signal', got {kind!r}")
    if kind == "image":
        if a.ndim == 4:
            a = a[index]
            x = None if x is None else x[index]
        heat = np.abs(a).sum(0) if a.ndim == 3 else np.abs(a)
        img = None
        if x is not None:
            img = x.transpose(1, 2, 0) if x.ndim == 3 and x.shape[0] in (3, 4) else x
            if img.ndim == 3 and img.shape[-1] not in (3, 4):
                img = img.mean(0)
        figure = _plot.require_matplotlib()
        ncols = 2 if img is not None else 1
        fig = figure.Figure(figsize=(3.2 * ncols, 3.2), layout="constrained")
        axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        if img is not None:
            lo, hi = float(np.min(img)), float(np.max(img))
            axes[0].imshow((img - lo) / (hi - lo + 1e-12), cmap="gray")
            axes[0].set_title("input")
            axes[0].axis("off")
        im = axes[-1].imshow(heat, cmap="inferno")
        axes[-1].set_title(title)
        axes[-1].axis("off")
        fig.colorbar(im, ax=axes[-1], fraction=0.046)
        return _plot.finish(fig, path)
    if a.ndim >= 2 and a.shape[0] > 1 and a.ndim == 3:
        a = a[index]
        x = None if x is None else x[index]
    a1 = np.abs(a).reshape(-1, a.shape[-1]).sum(0) if a.ndim > 1 else np.abs(a)
    x1 = None
    if x is not None:
        x1 = x.reshape(-1, x.shape[-1]).mean(0) if x.ndim > 1 else x
    fig, ax = _plot.new_figure(8, 3)
    t = np.arange(a1.shape[0])
    if x1 is not None:
        ax.plot(t, x1, color="0.7", lw=0.8, zorder=1)
        sc = ax.scatter(t, x1, c=a1, cmap="inferno", s=6, zorder=2)
        ax.set_ylabel("signal")
    else:
        ax.plot(t, a1, lw=0.8)
        sc = ax.scatter(t, a1, c=a1, cmap="inferno", s=6)
        ax.set_ylabel("|attribution|")
    fig.colorbar(sc, ax=ax, label="|attribution|")
    ax.set_xlabel("time step")
    ax.set_title(title)
    return _plot.finish(fig, path)
