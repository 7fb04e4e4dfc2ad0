"""chainrule.amp (autocast, GradScaler) and chainrule.testing.assert_close, vs torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_autocast_forms():
    with cr.autocast("cpu"):
        y = cr.ones(2) * 2
    assert y.dtype == cr.float32
    with cr.autocast(device_type="cuda", enabled=False):
        pass
    with cr.amp.autocast("cpu", dtype=cr.bfloat16):
        pass
    with cr.cuda.amp.autocast(enabled=False):
        pass

    @cr.autocast("cpu")
    def f(x):
        return x + 1

    assert f(cr.zeros(1)).item() == 1.0
    with pytest.raises(RuntimeError, match="'cuda'.*CPU"):
        cr.autocast("cuda")


def test_disabled_scaler_is_transparent():
    for s in (cr.amp.GradScaler(enabled=False), cr.cuda.amp.GradScaler(), cr.amp.GradScaler()):
        assert not s.is_enabled() and s.get_scale() == 1.0 and s.state_dict() == {}
        p = cr.nn.Parameter(cr.ones(2))
        opt = cr.optim.SGD([p], lr=0.5)
        loss = (p * 2).sum()
        s.scale(loss).backward()
        s.unscale_(opt)
        s.step(opt)
        s.update()
        assert p.tolist() == [0.0, 0.0]


def test_grad_scaler_matches_torch(torch):
    """Same steps, same scale schedule, same skipped steps as torch's CPU GradScaler."""
    rs = np.random.RandomState(0)
    w0 = rs.randn(3, 2)
    xs = [rs.randn(4, 3) for _ in range(6)]
    results = []
    for lib in (torch, cr):
        w = lib.tensor(w0, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
        scales = []
        for step in range(6):
            opt.zero_grad()
            loss = (lib.tensor(xs[step]) @ w).pow(2).mean()
            scaler.scale(loss).backward()
            if step == 3:  # an overflow: the step is skipped and the scale backs off
                w.grad[0, 0] = float("inf")
            scaler.unscale_(opt)
            scaler.step(opt)
            scaler.update()
            scales.append(scaler.get_scale())
        results.append((w.detach().numpy().copy(), scales, scaler.state_dict()))
    (w_t, s_t, sd_t), (w_c, s_c, sd_c) = results
    assert s_c == s_t
    np.testing.assert_allclose(w_c, w_t, rtol=1e-12)
    assert sd_c == sd_t
    fresh = cr.amp.GradScaler("cpu")
    fresh.load_state_dict(sd_c)
    assert fresh.get_scale() == s_c[-1]


def test_assert_close(torch):
    cr.testing.assert_close(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0 + 1e-6]))
    cr.testing.assert_close({"a": [cr.tensor(1.0)]}, {"a": [cr.tensor(1.0)]})
    cr.testing.assert_close(1.0, 1.0 + 1e-9)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        cr.testing.assert_close(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.1]))
    with pytest.raises(AssertionError, match="dtype"):
        cr.testing.assert_close(cr.tensor([1.0]), cr.tensor([1.0], dtype=cr.float64))
    with pytest.raises(AssertionError, match="shape"):
        cr.testing.assert_close(cr.zeros(2), cr.zeros(3))
    cr.testing.assert_close(cr.tensor([1.0]), cr.tensor([1.5]), rtol=0, atol=0.6)
    cr.testing.assert_close(cr.tensor([float("nan")]), cr.tensor([float("nan")]), equal_nan=True)
    # the same verdicts as torch's defaults at the float32 boundary
    for delta in (1e-6, 1e-4):
        ours = _passes(cr.testing.assert_close, cr.tensor([1.0]), cr.tensor([1.0 + delta]))
        ref = _passes(torch.testing.assert_close, torch.tensor([1.0]), torch.tensor([1.0 + delta]))
        assert ours == ref


def _passes(f, *args):
    try:
        f(*args)
    except AssertionError:
        return False
    return True
