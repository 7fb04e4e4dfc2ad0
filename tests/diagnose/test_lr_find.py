"""lr_find: the curve, a sensible suggestion, and model/optimizer state restored."""

from __future__ import annotations

import numpy as np
import pytest
from _diag_nets import MSELoss, ReLU, mlp

import chainrule as cr
from chainrule import diagnose


def test_lr_find_suggests_and_restores() -> None:
    from chainrule.optim import SGD

    model = mlp([4, 16, 1], ReLU)
    w_true = cr.randn(4, 1)
    x = cr.randn(64, 4)
    y = x @ w_true
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    # one real step so the optimizer has momentum state to restore
    MSELoss()(model(x), y).backward()
    opt.step()
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    opt_before = opt.state_dict()
    buf_before = {k: v["momentum_buffer"].numpy().copy() for k, v in opt_before["state"].items()}

    res = diagnose.lr_find(model, (x, y), MSELoss(), opt, start_lr=1e-5, end_lr=10, num_iter=60)
    assert 1e-5 <= res.suggestion <= 10 and res.diverged
    assert len(res.lrs) == len(res.losses) == len(res.raw_losses) <= 60
    assert res.lrs[1] / res.lrs[0] == pytest.approx((10 / 1e-5) ** (1 / 59))
    i = res.lrs.index(res.suggestion)
    assert res.losses[i] < res.losses[0]  # suggestion is on the descending part
    assert "suggested" in str(res)

    for k, v in model.state_dict().items():
        assert np.array_equal(v.detach().numpy(), before[k]), k
    assert opt.param_groups[0]["lr"] == 0.01
    after = opt.state_dict()
    for k, v in after["state"].items():
        assert np.array_equal(v["momentum_buffer"].numpy(), buf_before[k])


def test_lr_find_plot_and_bad_input() -> None:
    from chainrule.optim import SGD

    model = mlp([2, 1], ReLU)
    opt = SGD(model.parameters(), lr=0.1)
    x, y = cr.randn(8, 2), cr.randn(8, 1)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        diagnose.lr_find(model, (x, y), MSELoss(), opt, start_lr=1.0, end_lr=0.1)
    with pytest.raises(TypeError, match="iterable of batches"):
        diagnose.lr_find(model, 3, MSELoss(), opt)
    res = diagnose.lr_find(model, [(x, y), (x, y)], MSELoss(), opt, num_iter=10)
    assert len(res.lrs) >= 2
    pytest.importorskip("matplotlib")
    assert res.plot().axes
