"""Reproducibility: ``seed_everything``, ``deterministic()`` and ``multi_seed`` statistics.

The seeds call it "sensitivity to initial conditions": the same network trained from two seeds
ends in different places. ``multi_seed`` measures how far apart (mean, std, 95 % interval), and
``deterministic()`` makes one seed give bitwise the same weights every time.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _plot

__all__ = [
    "seed_everything",
    "deterministic",
    "is_deterministic",
    "multi_seed",
    "MultiSeedResult",
    "t_quantile",
]


def seed_everything(seed: int) -> int:
    """Seed every RNG chainrule uses, and Python's and NumPy's global ones; returns ``seed``.

    Covers ``random`` (Python), ``numpy.random`` (legacy global state), chainrule's default
    ``Generator`` (factories, initialisers, dropout, DataLoader shuffling without an explicit
    generator) and ``PYTHONHASHSEED`` for subprocesses (worker processes started later).
    Generators the user created explicitly (``cr.Generator()``) are theirs to seed.
    """
    from .._random import manual_seed

    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed_everything: seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed & 0xFFFFFFFF)
    return seed


_DET_STATE = {"on": False}
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def is_deterministic() -> bool:
    """True while ``deterministic()`` is in force."""
    return _DET_STATE["on"]


class deterministic:  # noqa: N801 - used like a function / context manager
    """Bitwise-repeatable mode: BLAS pinned to one thread (and optionally everything seeded).

    Multi-threaded BLAS splits a matrix product differently from run to run, and float addition
    is not associative, so the last bits of a gradient can differ; over many steps the weights
    drift apart. One thread removes that. With ``threadpoolctl`` installed (optional) the limit
    is applied to the already-loaded BLAS at once; without it chainrule sets
    ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``=1, which only binds a BLAS
    loaded afterwards — so set those variables before starting Python, or install threadpoolctl.

    Applies on construction; use it as a context manager to restore the previous setting on
    exit::

        with diagnose.deterministic(seed=0):
            train()
    """

    def __init__(self, seed: int | None = None, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"deterministic: threads must be >= 1, got {threads}")
        self._prev_on = _DET_STATE["on"]
        self._prev_env = {k: os.environ.get(k) for k in _THREAD_VARS}
        self._limiter = None
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            threadpool_limits = None
        if threadpool_limits is not None:
            self._limiter = threadpool_limits(limits=threads)
        for k in _THREAD_VARS:
            os.environ[k] = str(threads)
        _DET_STATE["on"] = True
        self.uses_threadpoolctl = self._limiter is not None
        if seed is not None:
            seed_everything(seed)

    def __enter__(self) -> deterministic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Undo: thread limits and environment back to what they were."""
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None
        for k, v in self._prev_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _DET_STATE["on"] = self._prev_on


# ----------------------------------------------------------------------------- statistics


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def _t_cdf(t: float, df: float) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t distribution (e.g. ``t_quantile(0.975, 4)`` = 2.776…).

    Computed by bisection on the CDF (regularized incomplete beta), so no SciPy is needed.
    """
    if not 0 < p < 1:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p}")
    if df <= 0:
        raise ValueError(f"t_quantile: df must be positive, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def _summary(values: Sequence[float], confidence: float) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    n = int(v.size)
    mean = float(v.mean()) if n else float("nan")
    std = float(v.std(ddof=1)) if n > 1 else float("nan")
    if n > 1:
        half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    else:
        half = float("nan")
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "min": float(v.min()) if n else float("nan"),
        "max": float(v.max()) if n else float("nan"),
    }


class MultiSeedResult:
    """Per-seed final metrics with mean, sample std and a t-based confidence interval.

    Attributes: ``seeds``; ``metrics`` (name → one value per seed); ``curves`` (name → one
    sequence per seed, when the training function returned curves); ``confidence``.
    """

    def __init__(
        self,
        seeds: list[int],
        metrics: dict[str, list[float]],
        curves: dict[str, list[list[float]]],
        confidence: float,
    ) -> None:
        self.seeds = seeds
        self.metrics = metrics
        self.curves = curves
        self.confidence = confidence

    def summary(self) -> dict[str, dict[str, float]]:
        """name → {n, mean, std, ci_low, ci_high, min, max}."""
        return {k: _summary(v, self.confidence) for k, v in self.metrics.items()}

    def _pick(self, key: str) -> Any:
        summ = self.summary()
        if len(summ) == 1:
            return next(iter(summ.values()))[key]
        return {k: v[key] for k, v in summ.items()}

    @property
    def mean(self) -> Any:
        """Mean over seeds: a float when there is one metric, else {metric: mean}."""
        return self._pick("mean")

    @property
    def std(self) -> Any:
        """Sample standard deviation (ddof=1); a float or {metric: std} like ``mean``."""
        return self._pick("std")

    @property
    def interval(self) -> Any:
        """The confidence interval (low, high); a tuple or {metric: (low, high)}."""
        summ = self.summary()
        iv = {k: (v["ci_low"], v["ci_high"]) for k, v in summ.items()}
        return next(iter(iv.values())) if len(iv) == 1 else iv

    def to_dict(self) -> dict[str, Any]:
        """Plain data: seeds, per-seed metrics, curves and the summary."""
        return {
            "seeds": list(self.seeds),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "curves": {k: [list(c) for c in v] for k, v in self.curves.items()},
            "confidence": self.confidence,
            "summary": self.summary(),
        }

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        names = list(self.metrics)
        head = ["seed", *names]
        rows = [
            [str(s), *[f"{self.metrics[k][i]:.6g}" for k in names]]
            for i, s in enumerate(self.seeds)
        ]
        summ = self.summary()
        pct = f"{self.confidence * 100:g}%"
        rows.append(["mean", *[f"{summ[k]['mean']:.6g}" for k in names]])
        rows.append(["std", *[f"{summ[k]['std']:.4g}" for k in names]])
        rows.append(
            [
                f"{pct} CI",
                *[f"[{summ[k]['ci_low']:.6g}, {summ[k]['ci_high']:.6g}]" for k in names],
            ]
        )
        return head, rows

    def table(self) -> str:
        """The text table: one row per seed, then mean, std and the interval."""
        head, rows = self._rows()
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The table as Markdown."""
        head, rows = self._rows()
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)

    def __str__(self) -> str:
        return f"multi_seed over {len(self.seeds)} seeds\n" + self.table()

    def __repr__(self) -> str:
        return f"MultiSeedResult(seeds={self.seeds}, metrics={list(self.metrics)})"

    def plot(self, metric: str | None = None, path: Any = None) -> Any:
        """Curves per seed (thin) and their mean (thick); needs matplotlib (``plot`` extra)."""
        fig, ax = _plot.new_figure()
        if self.curves:
            name = metric or next(iter(self.curves))
            if name not in self.curves:
                raise KeyError(f"no curve named {name!r}; have {list(self.curves)}")
            cs = self.curves[name]
            for s, c in zip(self.seeds, cs):
                ax.plot(range(1, len(c) + 1), c, lw=0.8, alpha=0.6, label=f"seed {s}")
            n = min(len(c) for c in cs)
            if n:
                mean = np.mean([c[:n] for c in cs], axis=0)
                ax.plot(range(1, n + 1), mean, lw=2.5, color="black", label="mean")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
        else:
            name = metric or next(iter(self.metrics))
            vals = self.metrics[name]
            ax.bar([str(s) for s in self.seeds], vals)
            summ = _summary(vals, self.confidence)
            ax.axhline(summ["mean"], color="black", label="mean")
            ax.axhspan(summ["ci_low"], summ["ci_high"], alpha=0.2, label="95% interval")
            ax.set_xlabel("seed")
            ax.set_ylabel(name)
        ax.set_title(f"{name} over {len(self.seeds)} seeds")
        ax.legend(fontsize=7)
        return _plot.finish(fig, path)


def _as_record(out: Any) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Split a training function's return value into final metrics and curves."""
    if hasattr(out, "to_dict") and callable(out.to_dict):  # e.g. train.History
        out = out.to_dict()
    if isinstance(out, int | float | np.number) and not isinstance(out, bool):
        return {"metric": float(out)}, {}
    if hasattr(out, "item") and callable(out.item):  # a scalar Tensor / ndarray
        return {"metric": float(out.item())}, {}
    if not isinstance(out, Mapping):
        raise TypeError(
            "multi_seed: the training function must return a number, a mapping of metric name "
            f"→ number (or → per-epoch sequence), or a History; got {type(out).__name__}"
        )
    metrics: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for k, v in out.items():
        if k in ("epoch", "time"):  # History bookkeeping columns, not metrics
            continue
        if hasattr(v, "tolist") and not isinstance(v, int | float):
            v = v.tolist()
        if isinstance(v, list | tuple):
            if v and all(isinstance(x, int | float) for x in v):
                curves[str(k)] = [float(x) for x in v]
                metrics[str(k)] = float(v[-1])
        elif isinstance(v, int | float) and not isinstance(v, bool):
            metrics[str(k)] = float(v)
    if not metrics:
        raise TypeError(f"multi_seed: no numeric metric in the returned mapping {list(out)}")
    return metrics, curves


def multi_seed(
    train_fn: Callable[[int], Any],
    seeds: Iterable[int] | int = 5,
    *,
    confidence: float = 0.95,
    seed_all: bool = True,
) -> MultiSeedResult:
    """Run ``train_fn(seed)`` once per seed and report the spread of its final metrics.

    Args:
        train_fn: called with each seed (after ``seed_everything(seed)`` when ``seed_all``);
            returns a number, a mapping name → number or → per-epoch sequence (its last value
            is the final metric and the sequence is plotted), or a ``History``.
        seeds: the seeds, or a count ``n`` meaning ``range(n)``.
        confidence: the interval's coverage (t-distribution with n − 1 degrees of freedom).
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise ValueError("multi_seed: need at least one seed")
    if not 0 < confidence < 1:
        raise ValueError(f"multi_seed: confidence must be in (0, 1), got {confidence}")
    metrics: dict[str, list[float]] = {}
    curves: dict[str, list[list[float]]] = {}
    for s in seeds:
        if seed_all:
            seed_everything(s)
        m, c = _as_record(train_fn(s))
        for k, v in m.items():
            metrics.setdefault(k, []).append(v)
        for k, v in c.items():
            curves.setdefault(k, []).append(v)
    n = len(seeds)
    metrics = {k: v for k, v in metrics.items() if len(v) == n}
    curves = {k: v for k, v in curves.items() if len(v) == n}
    return MultiSeedResult(seeds, metrics, curves, confidence)
