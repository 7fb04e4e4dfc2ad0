"""Regression tests from the external review of chainrule.diagnose."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import diagnose, nn


def test_gradcheck_on_active_dropout_says_it_is_random():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1)).train()
    with pytest.raises(ValueError, match="not deterministic.*eval"):
        diagnose.gradcheck(model, (cr.randn(2, 3),))
    assert diagnose.gradcheck(model.eval(), (cr.randn(2, 3),)) is True


def test_health_accepts_numpy_batches():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    x = np.random.default_rng(0).normal(size=(8, 2))  # float64, as NumPy makes it
    report = diagnose.health(model, (x, np.array([0, 1] * 4)), nn.CrossEntropyLoss())
    assert "Gradient health" in str(report)
    assert all(p.grad is None for p in model.parameters())
