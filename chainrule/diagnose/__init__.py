"""Backprop you can see: gradcheck, gradient health, NaN origin, explain, saliency, reproducibility.

Everything here is pure NumPy + chainrule; plots import matplotlib lazily (the ``plot`` extra).
"""

from __future__ import annotations

from .anomaly import detect_anomaly
from .gradcheck import GradcheckError, GradcheckResult, gradcheck

__all__ = ["gradcheck", "GradcheckError", "GradcheckResult", "detect_anomaly"]
