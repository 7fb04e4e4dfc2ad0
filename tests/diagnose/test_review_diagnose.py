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


def test_trainer_report_with_numpy_validation_data(tmp_path):
    # The report after fit used to crash on an (x, y) pair of NumPy arrays (stack of x and y).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))  # float64: cast to the model's float32 like fit does
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    out = tmp_path / "report.html"
    trainer = cr.train.Trainer(model, loss=nn.CrossEntropyLoss(),
                               optimizer=cr.optim.SGD(model.parameters(), lr=0.1),
                               progress=False, report=str(out))  # fmt: skip
    history = trainer.fit((x, y), epochs=1, val_data=(x, y))
    assert len(history) == 1
    assert "40 examples, accuracy" in out.read_text()
