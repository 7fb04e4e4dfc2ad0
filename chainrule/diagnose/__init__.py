"""Backprop you can see: gradcheck, gradient health, NaN origin, explain, saliency, reproducibility.

- ``gradcheck(fn_or_model, inputs)``: float64 central differences vs the analytic gradient.
- ``health(model, (x, y), loss_fn)`` / ``GradientHealthMonitor``: per-layer verdicts (vanishing,
  exploding, dead units, saturated, update too large/small, healthy) with evidence and advice.
- ``detect_anomaly()``: the first NaN/Inf names the op, the user's line and the input statistics.
- ``explain(model, x, y, loss_fn, optimizer)``: one training step as the chain rule, with numbers.
- ``saliency``, ``integrated_gradients``, ``layer_attributions``, ``plot_heatmap``.
- ``seed_everything``, ``deterministic()``, ``multi_seed``; ``lr_find``; ``write_report`` (HTML).

Everything here is NumPy + chainrule; plots import matplotlib lazily (the ``plot`` extra) and
``deterministic()`` uses threadpoolctl when installed (the ``repro`` extra).
"""

from __future__ import annotations

from .anomaly import detect_anomaly
from .explain import Explanation, explain
from .gradcheck import GradcheckError, GradcheckResult, gradcheck
from .health import GradientHealthMonitor, HealthReport, Verdict, health
from .html_report import report, write_report
from .lr_find import LRFinderResult, lr_find
from .reproducibility import (
    MultiSeedResult,
    deterministic,
    is_deterministic,
    multi_seed,
    seed_everything,
    t_quantile,
)
from .saliency import (
    integrated_gradients,
    layer_attributions,
    plot_heatmap,
    saliency,
)

__all__ = [
    "gradcheck",
    "GradcheckError",
    "GradcheckResult",
    "detect_anomaly",
    "health",
    "HealthReport",
    "Verdict",
    "GradientHealthMonitor",
    "explain",
    "lr_find",
    "write_report",
    "report",
    "LRFinderResult",
    "Explanation",
    "seed_everything",
    "deterministic",
    "is_deterministic",
    "multi_seed",
    "MultiSeedResult",
    "t_quantile",
    "saliency",
    "integrated_gradients",
    "layer_attributions",
    "plot_heatmap",
]
