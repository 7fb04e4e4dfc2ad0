"""Learning-rate schedules: 100-step lr sequences equal torch's, state_dict, chaining."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as crs

torch = pytest.importorskip("torch")
tls = torch.optim.lr_scheduler


def _pair(opt_name="SGD", opt_kw=None, groups=2):
    opt_kw = opt_kw or dict(lr=0.1, momentum=0.9)
    w = np.ones(3)

    def make(lib, mod):
        ps = [lib.tensor(w, requires_grad=True) for _ in range(groups)]
        pg = [{"params": [p], "lr": opt_kw["lr"] * (i + 1)} for i, p in enumerate(ps)]
        return getattr(mod, opt_name)(pg, **opt_kw)

    return make(torch, torch.optim), make(cr, optim)


def _momentum(group):
    return group["betas"][0] if "betas" in group else group.get("momentum")


def _sequence(opt, sched, steps, metrics=None):
    lrs, moms = [], []
    for k in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        lrs.append(list(sched.get_last_lr()))
        moms.append([_momentum(g) for g in opt.param_groups])
    return np.array(lrs), moms


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[10, 30, 30, 80], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.97)),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=100)),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=40)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=60)),
    ("ConstantLR", dict(factor=0.5, total_iters=10)),
    ("PolynomialLR", dict(total_iters=50, power=2.0)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=100)),
    ("OneCycleLR", dict(max_lr=[1.0, 2.0], total_steps=101, anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.5, epochs=10, steps_per_epoch=10, three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=100, cycle_momentum=False, pct_start=0.5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=10)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.01)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=7)),
    (
        "CyclicLR",
        dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=9, mode="triangular2"),
    ),
    (
        "CyclicLR",
        dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=6, mode="exp_range", gamma=0.97),
    ),
]


@pytest.mark.parametrize(("name", "kw"), SCHEDULERS)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_lr_sequence_matches_torch(name, kw, opt_name):
    opt_kw = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.1)
    topt, copt = _pair(opt_name, opt_kw)
    ts = getattr(tls, name)(topt, **kw)
    cs = getattr(crs, name)(copt, **kw)
    assert cs.get_last_lr() == ts.get_last_lr()
    assert cs.last_epoch == ts.last_epoch
    steps = 99 if name == "OneCycleLR" else 100
    tl, tm = _sequence(topt, ts, steps)
    cl, cm = _sequence(copt, cs, steps)
    np.testing.assert_allclose(cl, tl, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.array(cm, float), np.array(tm, float), rtol=1e-12)
    assert cs.last_epoch == ts.last_epoch


def test_lambda_and_multiplicative():
    topt, copt = _pair()
    ts = tls.LambdaLR(topt, [lambda e: 0.95**e, lambda e: 1 / (1 + e)])
    cs = crs.LambdaLR(copt, [lambda e: 0.95**e, lambda e: 1 / (1 + e)])
    np.testing.assert_allclose(_sequence(copt, cs, 100)[0], _sequence(topt, ts, 100)[0], rtol=1e-14)
    topt, copt = _pair()
    ts = tls.MultiplicativeLR(topt, lambda e: 0.98)
    cs = crs.MultiplicativeLR(copt, lambda e: 0.98)
    np.testing.assert_allclose(_sequence(copt, cs, 100)[0], _sequence(topt, ts, 100)[0], rtol=1e-14)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(mode="max", factor=0.5, patience=2, threshold=0.01, threshold_mode="abs"),
        dict(factor=0.5, patience=1, cooldown=3, min_lr=[0.01, 0.02]),
        dict(factor=0.2, patience=0, threshold=0.1, min_lr=0.001, eps=1e-3),
    ],
)
def test_reduce_on_plateau_scripted_metric(kw):
    rng = np.random.default_rng(1)
    metrics = np.concatenate([np.linspace(1, 0.5, 20), 0.5 + 0.01 * rng.standard_normal(80)])
    metrics[60:70] = np.linspace(0.3, 0.2, 10)
    topt, copt = _pair()
    ts, cs = tls.ReduceLROnPlateau(topt, **kw), crs.ReduceLROnPlateau(copt, **kw)
    tl, _ = _sequence(topt, ts, 100, list(metrics))
    cl, _ = _sequence(copt, cs, 100, [cr.tensor(m) for m in metrics])
    np.testing.assert_allclose(cl, tl, rtol=1e-15)
    assert cs.num_bad_epochs == ts.num_bad_epochs and cs.best == pytest.approx(ts.best)


def test_chained_schedulers_on_one_optimizer():
    topt, copt = _pair()
    t1, t2 = tls.LinearLR(topt, 0.1, total_iters=10), tls.StepLR(topt, 15, 0.5)
    c1, c2 = crs.LinearLR(copt, 0.1, total_iters=10), crs.StepLR(copt, 15, 0.5)
    tl, cl = [], []
    for _ in range(60):
        topt.step()
        copt.step()
        t1.step()
        t2.step()
        c1.step()
        c2.step()
        tl.append(t2.get_last_lr())
        cl.append(c2.get_last_lr())
    np.testing.assert_allclose(cl, tl, rtol=1e-13)
    # The combinators too.
    topt, copt = _pair()
    ts = tls.SequentialLR(
        topt, [tls.ConstantLR(topt, 0.5, 5), tls.ExponentialLR(topt, 0.9)], milestones=[8]
    )
    cs = crs.SequentialLR(
        copt, [crs.ConstantLR(copt, 0.5, 5), crs.ExponentialLR(copt, 0.9)], milestones=[8]
    )
    np.testing.assert_allclose(_sequence(copt, cs, 40)[0], _sequence(topt, ts, 40)[0], rtol=1e-13)
    topt, copt = _pair()
    ts = tls.ChainedScheduler([tls.ConstantLR(topt, 0.5, 5), tls.ExponentialLR(topt, 0.9)])
    cs = crs.ChainedScheduler([crs.ConstantLR(copt, 0.5, 5), crs.ExponentialLR(copt, 0.9)])
    np.testing.assert_allclose(_sequence(copt, cs, 40)[0], _sequence(topt, ts, 40)[0], rtol=1e-13)


def test_state_dict_resume_continues_identically():
    _, copt = _pair()
    cs = crs.OneCycleLR(copt, max_lr=1.0, total_steps=100)
    _sequence(copt, cs, 30)
    sd = cs.state_dict()
    assert sd["last_epoch"] == 30 and "optimizer" not in sd
    osd = copt.state_dict()
    _, copt2 = _pair()
    copt2.load_state_dict(osd)
    cs2 = crs.OneCycleLR(copt2, max_lr=1.0, total_steps=100)
    cs2.load_state_dict(sd)
    np.testing.assert_allclose(_sequence(copt2, cs2, 40)[0], _sequence(copt, cs, 40)[0])
    # A plain scheduler with last_epoch: the same keys as torch's state_dict.
    topt, copt = _pair()
    assert set(crs.StepLR(copt, 3).state_dict()) == set(tls.StepLR(topt, 3).state_dict())


def test_step_before_optimizer_step_warns_like_torch():
    _, copt = _pair()
    cs = crs.StepLR(copt, 3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        cs.step()


def test_epoch_argument_uses_closed_form():
    topt, copt = _pair()
    ts, cs = tls.StepLR(topt, 3, 0.5), crs.StepLR(copt, 3, 0.5)
    topt.step()
    copt.step()
    with pytest.warns(UserWarning):
        ts.step(7)
    with pytest.warns(UserWarning):
        cs.step(7)
    assert cs.get_last_lr() == ts.get_last_lr()


@pytest.mark.parametrize(
    ("make", "exc"),
    [
        (lambda s, o: s.ReduceLROnPlateau(o, factor=1.0), ValueError),
        (lambda s, o: s.ReduceLROnPlateau(o, mode="avg"), ValueError),
        (lambda s, o: s.ReduceLROnPlateau(o, threshold_mode="x"), ValueError),
        (lambda s, o: s.LinearLR(o, start_factor=0.0), ValueError),
        (lambda s, o: s.ConstantLR(o, factor=2.0), ValueError),
        (lambda s, o: s.OneCycleLR(o, max_lr=1.0), ValueError),
        (lambda s, o: s.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="x"), ValueError),
        (lambda s, o: s.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError),
        (lambda s, o: s.LambdaLR(o, [lambda e: 1.0]), ValueError),
        (lambda s, o: s.StepLR(o, 3, last_epoch=5), KeyError),
        (lambda s, o: s.StepLR(object(), 3), TypeError),
    ],
)
def test_bad_arguments_raise_like_torch(make, exc):
    topt, copt = _pair()
    with pytest.raises(exc) as theirs:
        make(tls, topt)
    with pytest.raises(exc) as ours:
        make(crs, copt)
    if exc is ValueError:
        assert str(ours.value) == str(theirs.value)


def test_onecycle_too_many_steps():
    topt, copt = _pair()
    ts = tls.OneCycleLR(topt, max_lr=1.0, total_steps=3)
    cs = crs.OneCycleLR(copt, max_lr=1.0, total_steps=3)
    _sequence(topt, ts, 3)
    _sequence(copt, cs, 3)
    with pytest.raises(ValueError) as theirs:
        ts.step()
    with pytest.raises(ValueError) as ours:
        cs.step()
    assert str(ours.value) == str(theirs.value)


def test_get_lr_outside_step_warns():
    _, copt = _pair()
    cs = crs.StepLR(copt, 3)
    with pytest.warns(UserWarning, match="get_last_lr"):
        cs.get_lr()
