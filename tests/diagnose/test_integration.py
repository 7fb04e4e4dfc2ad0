"""diagnose driven by chainrule.train: the GradientMonitor callback and Trainer(report=...)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from _diag_nets import ReLU, mlp

import chainrule as cr
from chainrule import diagnose


def _data(n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0).astype(np.int64)
    return cr.tensor(x), cr.tensor(y)


def test_gradient_monitor_callback_gets_health_reports() -> None:
    from chainrule import nn, optim, train

    model = mlp([6, 16, 3], ReLU)
    cb = train.GradientMonitor(every_n_steps=1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    train.fit(model, _data(), loss=loss, optimizer=opt, epochs=2, batch_size=16, callbacks=[cb],
              progress=False)  # fmt: skip
    assert cb.reports and isinstance(cb.reports[-1], diagnose.HealthReport)
    assert cb.reports[-1].kinds == ["healthy"], str(cb.reports[-1])
    assert len(cb.reports[-1].timeline) == 8


def test_trainer_report_writes_html(tmp_path: Path) -> None:
    from chainrule import nn, optim, train

    model = mlp([6, 8, 3], ReLU)
    out = tmp_path / "run.html"
    opt = optim.Adam(model.parameters(), lr=1e-2)
    t = train.Trainer(model, loss=nn.CrossEntropyLoss(), optimizer=opt, progress=False,
                      report=str(out))  # fmt: skip
    t.fit(_data(), epochs=2, batch_size=32)
    assert out.is_file()
    HTMLParser().feed(out.read_text())
    assert "Loss and metric curves" in out.read_text()
