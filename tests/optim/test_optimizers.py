"""Optimizers step for step against torch.optim, state_dict interop, validation, buffers."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3,), (2, 2)]
RNG = np.random.default_rng(0)
INIT = [RNG.standard_normal(s) for s in SHAPES]
TARGET = [RNG.standard_normal(s) for s in SHAPES]


def _loss(lib, ps, k):
    """A smooth non-quadratic loss; on every third step the last parameter gets no gradient."""
    used = ps if k % 3 else ps[:-1]
    total = 0
    for p, t in zip(used, TARGET, strict=False):
        tt = lib.tensor(t, dtype=p.dtype)
        d = p - tt
        total = total + (d * d).sum() + 0.1 * (d * d * d * d).sum() * (k % 2 + 1)
    return total


def _run(lib, name, kw, dtype, steps=20, groups=False, state=None):
    mod = torch.optim if lib is torch else optim
    ps = [lib.tensor(a, dtype=dtype, requires_grad=True) for a in INIT]
    arg = ps
    if groups:
        arg = [{"params": ps[:2]}, {"params": ps[2:], "lr": kw.get("lr", 0.01) * 3}]
    opt = getattr(mod, name)(arg, **kw)
    traj = []
    for k in range(steps):
        opt.zero_grad()
        _loss(lib, ps, k).backward()
        opt.step()
        traj.append([p.detach().numpy().copy() for p in ps])
    return traj, opt, ps


CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.8, 0.9), eps=1e-6)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1, alpha=0.9)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2)),
]
# Adadelta, Adamax, NAdam, RAdam: every flag, several lr/eps/rho/betas. RAdam switches to
# rectified steps when ρₜ > 5: from step 6 with β2 = 0.999 or 0.9, never with 0.5 (ρ∞ = 3).
MORE = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4)),
    ("Adadelta", dict(lr=2.0, rho=0.95, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.3, rho=0.0, eps=1e-3, weight_decay=0.05, maximize=True)),
    ("Adadelta", dict(lr=0.05, rho=1.0)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.1, betas=(0.3, 0.9), eps=1e-3)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, momentum_decay=0.5, betas=(0.3, 0.9), eps=1e-4)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("NAdam", dict(lr=0.02, momentum_decay=0.0, weight_decay=0.2, foreach=False)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-4)),
    ("RAdam", dict(lr=0.05, betas=(0.6, 0.5))),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), maximize=True, capturable=False)),
]
CASES += MORE


@pytest.mark.parametrize(("name", "kw"), CASES)
@pytest.mark.parametrize("groups", [False, True])
def test_float64_trajectory_matches_torch(name, kw, groups):
    a, _, _ = _run(torch, name, kw, torch.float64, groups=groups)
    b, _, _ = _run(cr, name, kw, cr.float64, groups=groups)
    for k, (ta, tb) in enumerate(zip(a, b, strict=True)):
        for x, y in zip(ta, tb, strict=True):
            np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-12, err_msg=f"step {k}")


@pytest.mark.parametrize(
    ("name", "kw"), CASES[1:2] + CASES[7:8] + CASES[15:16] + CASES[17:18] + MORE[2::3]
)
def test_float32_trajectory_matches_torch(name, kw):
    a, _, _ = _run(torch, name, kw, torch.float32)
    b, _, ps = _run(cr, name, kw, cr.float32)
    assert all(p.dtype == cr.float32 for p in ps)
    for x, y in zip(a[-1], b[-1], strict=True):
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, x, rtol=1e-4, atol=1e-5)


def _sd_to_torch(sd):
    def conv(v):
        if isinstance(v, cr.Tensor):
            return torch.from_numpy(np.array(v.detach().numpy()))
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return {"state": conv(sd["state"]), "param_groups": sd["param_groups"]}


def _sd_to_cr(sd):
    def conv(v):
        if isinstance(v, torch.Tensor):
            return cr.tensor(v.detach().numpy().copy())
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return {"state": conv(sd["state"]), "param_groups": sd["param_groups"]}


def _continue(lib, opt, ps, start, steps=5):
    out = []
    for k in range(start, start + steps):
        opt.zero_grad()
        _loss(lib, ps, k).backward()
        opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out


@pytest.mark.parametrize(
    ("name", "kw"), [CASES[1], CASES[9], CASES[15], CASES[17], MORE[2], MORE[7], MORE[11], MORE[16]]
)
def test_state_dict_interop_both_ways(name, kw):
    ta, topt, tps = _run(torch, name, kw, torch.float64, steps=7)
    ca, copt, cps = _run(cr, name, kw, cr.float64, steps=7)
    tsd, csd = topt.state_dict(), copt.state_dict()
    assert set(tsd["state"]) == set(csd["state"])
    for i in tsd["state"]:
        assert list(tsd["state"][i]) == list(csd["state"][i])  # same keys, same order
    assert tsd["param_groups"] == csd["param_groups"]

    # ours -> torch, torch -> ours; both continue like the originals.
    t2 = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in cps]
    t2opt = getattr(torch.optim, name)(t2, **kw)
    t2opt.load_state_dict(_sd_to_torch(csd))
    c2 = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tps]
    c2opt = getattr(optim, name)(c2, **kw)
    c2opt.load_state_dict(_sd_to_cr(tsd))
    ref = _continue(torch, topt, tps, 7)
    for got in (_continue(torch, t2opt, t2, 7), _continue(cr, c2opt, c2, 7)):
        for x, y in zip(ref[-1], got[-1], strict=True):
            np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-12)


def test_state_dict_round_trip_mid_training():
    _, opt, ps = _run(cr, "Adam", dict(lr=0.05, amsgrad=True), cr.float64, steps=6)
    sd = opt.state_dict()
    ps2 = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
    opt2 = optim.Adam(ps2, lr=0.05, amsgrad=True)
    opt2.load_state_dict(_sd_to_cr(_sd_to_torch(sd)))
    a = _continue(cr, opt, ps, 6)
    b = _continue(cr, opt2, ps2, 6)
    for x, y in zip(a[-1], b[-1], strict=True):
        np.testing.assert_array_equal(x, y)


def test_sgd_without_momentum_has_no_state_and_adagrad_state_is_eager():
    _, opt, _ = _run(cr, "SGD", dict(lr=0.01), cr.float64, steps=2)
    assert opt.state_dict()["state"] == {}
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    ada = optim.Adagrad(ps, initial_accumulator_value=0.5)
    assert float(ada.state[ps[0]]["step"]) == 0.0
    np.testing.assert_array_equal(ada.state[ps[0]]["sum"].numpy(), np.full((4, 3), 0.5))


def test_param_without_grad_is_skipped():
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    opt = optim.Adam(ps, lr=0.1, weight_decay=0.5)
    before = ps[2].detach().numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        (ps[0].sum() + ps[1].sum()).backward()
        opt.step()
    assert ps[2] not in opt.state
    np.testing.assert_array_equal(ps[2].detach().numpy(), before)
    assert float(opt.state[ps[0]]["step"]) == 3.0


def test_lr_change_between_steps_is_used():
    ref, _, _ = _run(torch, "SGD", dict(lr=0.01, momentum=0.9), torch.float64, steps=1)
    ps = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in INIT]
    tps = [torch.tensor(a, requires_grad=True) for a in INIT]
    o, to = optim.SGD(ps, lr=0.01, momentum=0.9), torch.optim.SGD(tps, lr=0.01, momentum=0.9)
    for k in range(6):
        for oo in (o, to):
            oo.param_groups[0]["lr"] = 0.01 * (k + 1)
            oo.param_groups[0]["momentum"] = 0.9 - 0.1 * k
        for lib, oo, pp in ((cr, o, ps), (torch, to, tps)):
            oo.zero_grad()
            _loss(lib, pp, k).backward()
            oo.step()
    for x, y in zip(tps, ps, strict=True):
        np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy(), rtol=1e-10)


def test_replaced_param_data_and_manual_grads_are_respected():
    ps = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in INIT]
    tps = [torch.tensor(a, requires_grad=True) for a in INIT]
    o, to = optim.SGD(ps, lr=0.1, momentum=0.5), torch.optim.SGD(tps, lr=0.1, momentum=0.5)
    for k in range(4):
        if k == 2:  # user code swaps a parameter's storage (like Module.to / p.data = ...)
            ps[1].data = cr.tensor(ps[1].detach().numpy() * 2)
            tps[1].data = tps[1].data * 2
        for lib, oo, pp in ((cr, o, ps), (torch, to, tps)):
            oo.zero_grad()
            for p, a in zip(pp, INIT, strict=True):  # gradients set by hand
                p.grad = lib.tensor(a * (k + 1), dtype=p.dtype)
            oo.step()
    for x, y in zip(tps, ps, strict=True):
        np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy(), rtol=1e-12)


def test_zero_grad_modes_and_held_gradients_keep_values():
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    opt = optim.SGD(ps, lr=0.1)
    _loss(cr, ps, 1).backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    _loss(cr, ps, 1).backward()
    held = ps[0].grad
    kept = held.numpy().copy()
    opt.step()
    opt.zero_grad()
    _loss(cr, ps, 2).backward()
    np.testing.assert_array_equal(held.numpy(), kept)  # not overwritten by the next backward


def test_flat_buffers_survive_module_and_optimizer_load_state_dict():
    nn = cr.nn

    class Lin(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight = nn.Parameter(cr.tensor(RNG.standard_normal((o, i)).astype(np.float32)))
            self.bias = nn.Parameter(cr.zeros(o))

        def forward(self, x):
            return (x @ self.weight.t() + self.bias).tanh()

    model = nn.Sequential(Lin(3, 4), Lin(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = cr.tensor(RNG.standard_normal((5, 3)).astype(np.float32))
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    osd = opt.state_dict()
    model.load_state_dict(sd)
    opt.load_state_dict(osd)
    w = model[0].weight
    before = w.detach().numpy().copy()
    opt.zero_grad()
    model(x).pow(2).sum().backward()
    opt.step()
    assert not np.array_equal(w.detach().numpy(), before)  # the model's own parameter moved
    assert w in opt.state


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda p: optim.SGD(p, lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
        (
            lambda p: optim.SGD(p, lr=0.1, nesterov=True),
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (lambda p: optim.Adam(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
        (lambda p: optim.RMSprop(p, alpha=-0.1), "Invalid alpha value: -0.1"),
        (lambda p: optim.Adagrad(p, lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
        (
            lambda p: optim.Adagrad(p, initial_accumulator_value=-1.0),
            "Invalid initial_accumulator_value value: -1.0",
        ),
        (lambda p: optim.LBFGS(p, lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
        (lambda p: optim.Adadelta(p, rho=float("nan")), "Invalid rho value: nan"),
        (lambda p: optim.Adadelta(p, lr=-2), "Invalid learning rate: -2"),
        (lambda p: optim.Adadelta(p, eps=-1e-6, rho=2.0), "Invalid rho value: 2.0"),
        (lambda p: optim.Adadelta(p, eps=-1e-6), "Invalid epsilon value: -1e-06"),
        (lambda p: optim.Adadelta(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
        (lambda p: optim.Adamax(p, lr=float("nan")), "Invalid learning rate: nan"),
        (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (lambda p: optim.Adamax(p, eps=-1.0, betas=(2, 0)), "Invalid epsilon value: -1.0"),
        (lambda p: optim.NAdam(p, momentum_decay=-0.1), "Invalid momentum_decay value: -0.1"),
        (lambda p: optim.NAdam(p, betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
        (
            lambda p: optim.NAdam(p, weight_decay=-1, momentum_decay=-1),
            "Invalid weight_decay value: -1",
        ),
        (
            lambda p: optim.RAdam(p, betas=(0.9, float("nan"))),
            "Invalid beta parameter at index 1: nan",
        ),
        (lambda p: optim.RAdam(p, weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
        (lambda p: optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
        (
            lambda p: optim.SGD([{"params": p}, {"params": p[:1]}], lr=0.1),
            "some parameters appear in more than one parameter group",
        ),
    ],
)
def test_bad_hyper_parameters_raise_torch_text(call, msg):
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    with pytest.raises(ValueError) as ours:
        call(ps)
    assert str(ours.value) == msg
    tps = [torch.tensor(a, requires_grad=True) for a in INIT]
    with pytest.raises(ValueError, match=None) as theirs:
        call.__code__  # noqa: B018 - the same call against torch:
        _torchify(call)(tps)
    assert str(theirs.value) == msg


@pytest.mark.parametrize("name", ["Adam", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"])
def test_tensor_lr_like_torch(name):
    for lib in (torch, cr):
        ps = [lib.tensor(INIT[0], requires_grad=True)]
        with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
            getattr(lib.optim, name)(ps, lr=lib.tensor([0.1, 0.2]))
    out = []
    for lib in (torch, cr):  # a 1-element tensor lr works like the number
        p = lib.tensor(INIT[0], requires_grad=True)
        opt = getattr(lib.optim, name)([p], lr=lib.tensor(0.05))
        for _ in range(3):
            opt.zero_grad()
            (p**4).sum().backward()
            opt.step()
        out.append(p.detach().numpy().copy())
    # torch keeps a tensor lr as a float32 tensor, so its step-size scalars (lr/(1 − β1ᵗ) …)
    # are rounded to float32; chainrule uses the lr's value as a Python float.
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5)


def _torchify(call):
    import types

    glb = dict(call.__globals__)
    glb["optim"] = torch.optim
    return types.FunctionType(call.__code__, glb)


def test_bad_state_dict_raises_and_leaves_optimizer_unchanged():
    _, opt, ps = _run(cr, "Adam", dict(lr=0.05), cr.float64, steps=2)
    before = {k: v["exp_avg"].numpy().copy() for k, v in opt.state_dict()["state"].items()}
    sd = opt.state_dict()
    bad = {"state": sd["state"], "param_groups": sd["param_groups"] * 2}
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(bad)
    bad = {"state": sd["state"], "param_groups": [dict(sd["param_groups"][0], params=[0, 1])]}
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(bad)
    wrong = {0: {"step": cr.tensor(2.0), "exp_avg": cr.zeros(7), "exp_avg_sq": cr.zeros(7)}}
    with pytest.raises(ValueError, match="exp_avg"):
        opt.load_state_dict({"state": wrong, "param_groups": sd["param_groups"]})
    after = {k: v["exp_avg"].numpy() for k, v in opt.state_dict()["state"].items()}
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    with pytest.raises(TypeError):
        optim.SGD(ps[0], lr=0.1)


def _rosenbrock(lib, xy):
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search):
    kw = dict(
        lr=1 if line_search else 0.05, history_size=5, max_iter=10, line_search_fn=line_search
    )
    out = []
    for lib, mod in ((torch, torch.optim), (cr, optim)):
        xy = lib.tensor([-1.5, 2.0], dtype=lib.float64, requires_grad=True)
        opt = mod.LBFGS([xy], **kw)

        def closure(xy=xy, opt=opt, lib=lib):
            opt.zero_grad()
            loss = _rosenbrock(lib, xy)
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(4)]
        out.append((xy.detach().numpy().copy(), losses, opt.state[xy]["func_evals"]))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-8)
    assert out[1][2] == out[0][2]


def test_lbfgs_strong_wolfe_converges_on_rosenbrock():
    xy = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.LBFGS([xy], line_search_fn="strong_wolfe", max_iter=100)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(cr, xy)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(xy.detach().numpy(), [1.0, 1.0], atol=1e-5)


@pytest.mark.parametrize(
    ("name", "kw", "steps"),
    [
        ("SGD", dict(lr=0.1, momentum=0.9), 200),
        ("Adam", dict(lr=0.05), 400),
        ("AdamW", dict(lr=0.05, weight_decay=0.0), 400),
        ("RMSprop", dict(lr=0.01), 600),
        ("Adagrad", dict(lr=0.5), 400),
        # Adadelta's step keeps the size of its own running RMS, so it hovers ~1e-2 from the
        # minimum (as torch's does) rather than converging further.
        ("Adadelta", dict(lr=0.5, rho=0.5), 1000),
        ("Adamax", dict(lr=0.05), 400),
        ("NAdam", dict(lr=0.05), 400),
        ("RAdam", dict(lr=0.05), 600),
    ],
)
def test_converges_on_quadratic(name, kw, steps):
    a = np.diag([1.0, 3.0, 10.0])
    x = cr.tensor([3.0, -2.0, 1.0], dtype=cr.float64, requires_grad=True)
    opt = getattr(optim, name)([x], **kw)
    am = cr.tensor(a)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (x @ am @ x)).backward()
        opt.step()
    assert np.abs(x.detach().numpy()).max() < 1e-2


def test_adam_reaches_rosenbrock_minimum():
    xy = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([xy], lr=0.02)
    for _ in range(3000):
        opt.zero_grad()
        _rosenbrock(cr, xy).backward()
        opt.step()
    np.testing.assert_allclose(xy.detach().numpy(), [1.0, 1.0], atol=2e-2)


def test_repr_like_torch():
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    tps = [torch.tensor(a, requires_grad=True) for a in INIT]
    assert repr(optim.SGD(ps, lr=0.1, momentum=0.9)) == repr(
        torch.optim.SGD(tps, lr=0.1, momentum=0.9)
    )


def test_module_zero_grad_with_held_gradient_keeps_its_values():
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    opt.zero_grad()
    _loss(cr, ps, 1).backward()
    assert ps[0].grad._data is ps[0]._grad_buf  # backward wrote into the optimizer's buffer
    opt.step()
    held = ps[0].grad
    kept = held.numpy().copy()
    for p in ps:  # what Module.zero_grad() does
        p.grad = None
    _loss(cr, ps, 2).backward()
    np.testing.assert_array_equal(held.numpy(), kept)
    opt.step()  # and the optimizer still uses the new gradient
    opt.zero_grad()
    del held
    _loss(cr, ps, 2).backward()
    assert ps[0].grad._data is ps[0]._grad_buf


def test_module_double_after_optimizer_rebuilds_buffers():
    # torch's Adam raises on a dtype change mid-run; chainrule rebuilds its buffers in the new
    # dtype and carries the state over (cast), so training continues.
    ps = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in INIT]
    o = optim.Adam(ps, lr=0.05)
    for k in range(6):
        if k == 3:
            for p in ps:
                p.data = p.data.double()
        before = [p.detach().numpy().copy() for p in ps]
        o.zero_grad()
        _loss(cr, ps, k).backward()
        o.step()
        assert not np.array_equal(before[0], ps[0].detach().numpy())
    assert all(p.dtype == cr.float64 for p in ps)
    assert o.state[ps[0]]["exp_avg"].dtype == cr.float64
    assert float(o.state[ps[0]]["step"]) == 6.0
    assert float(o.state[ps[2]]["step"]) == 4.0  # no gradient on steps 0 and 3


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("SGD", dict(lr=0.01, momentum=0.9, maximize=True)),
        ("Adam", dict(lr=0.05, maximize=True)),
        ("RMSprop", dict(lr=0.01, maximize=True)),
        ("Adagrad", dict(lr=0.1, maximize=True)),
        ("Adadelta", dict(lr=0.1, maximize=True)),
        ("Adamax", dict(lr=0.05, maximize=True)),
        ("NAdam", dict(lr=0.05, maximize=True)),
        ("RAdam", dict(lr=0.05, maximize=True)),
    ],
)
def test_maximize_and_add_param_group_mid_run(name, kw):
    out = []
    for lib, mod in ((torch, torch.optim), (cr, optim)):
        p = lib.tensor(INIT[0], requires_grad=True)
        q = lib.tensor(INIT[2], requires_grad=True)
        opt = getattr(mod, name)([p], **kw)
        for k in range(8):
            if k == 3:
                opt.add_param_group({"params": [q], "lr": 0.03})
            opt.zero_grad()
            (-(p * p).sum() - (q * q).sum() * 0.5).backward()
            opt.step()
        out.append([p.detach().numpy().copy(), q.detach().numpy().copy()])
    for x, y in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-12)


def test_lbfgs_state_dict_into_torch_and_back():
    def make(lib, mod):
        x = lib.tensor([-1.5, 2.0], dtype=lib.float64, requires_grad=True)
        opt = mod.LBFGS([x], history_size=4, max_iter=5, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = _rosenbrock(lib, x)
            loss.backward()
            return loss

        return x, opt, closure

    tx, topt, tcl = make(torch, torch.optim)
    cx, copt, ccl = make(cr, optim)
    for _ in range(2):
        topt.step(tcl)
        copt.step(ccl)
    tsd, csd = topt.state_dict(), copt.state_dict()
    assert set(tsd["state"][0]) == set(csd["state"][0])
    assert tsd["param_groups"] == csd["param_groups"]
    # Continue both from swapped state (and the same point): the same next iterates.
    tx2, topt2, tcl2 = make(torch, torch.optim)
    cx2, copt2, ccl2 = make(cr, optim)
    with torch.no_grad():
        tx2.copy_(torch.from_numpy(cx.detach().numpy().copy()))
    cx2.data = cr.tensor(tx.detach().numpy().copy())
    topt2.load_state_dict(_sd_to_torch(csd))
    copt2.load_state_dict(_sd_to_cr(tsd))
    for _ in range(2):
        topt2.step(tcl2)
        copt2.step(ccl2)
        topt.step(tcl)
    np.testing.assert_allclose(tx2.detach().numpy(), tx.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(cx2.detach().numpy(), tx.detach().numpy(), rtol=1e-9)


def test_duplicate_parameter_warns_like_torch():
    p = cr.tensor(INIT[0], requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
        ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
        ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
        ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
        ("Adamax", dict(lr=0.01, weight_decay=0.1)),
        ("NAdam", dict(lr=0.01, weight_decay=0.1)),
        ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), decoupled_weight_decay=True, weight_decay=0.1)),
    ],
)
def test_large_bucket_two_thread_path_matches_torch(name, kw):
    # 400·400 + 7 elements: above the size where the update is split across two threads.
    rng = np.random.default_rng(5)
    init = [rng.standard_normal((400, 400)), rng.standard_normal(7)]
    out = []
    for lib, mod in ((torch, torch.optim), (cr, optim)):
        ps = [lib.tensor(a, requires_grad=True) for a in init]
        opt = getattr(mod, name)(ps, **kw)
        for _ in range(10):
            opt.zero_grad()
            sum(((p - 0.5) ** 2).sum() + (p**4).sum() * 0.01 for p in ps).backward()
            opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    for x, y in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-12)


def test_mixed_dtype_group_and_replaced_data_step_once():
    # Two dtypes in one group = two buckets; replacing one parameter's data must not step the
    # other bucket twice.
    a32, a64 = INIT[0].astype(np.float32), INIT[1]
    out = []
    for lib, mod in ((torch, torch.optim), (cr, optim)):
        p = lib.tensor(a32, requires_grad=True)
        q = lib.tensor(a64, requires_grad=True)
        opt = mod.SGD([p, q], lr=0.1, momentum=0.9)
        for k in range(4):
            if k == 2:
                q.data = q.data * 2
            opt.zero_grad(set_to_none=k % 2 == 0)
            ((p * p).sum() + (q * q).sum().float()).backward()
            opt.step()
        out.append([p.detach().numpy().copy(), q.detach().numpy().copy()])
    for x, y in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "kw"),
    [CASES[4], CASES[9], CASES[15], CASES[17], CASES[11], MORE[2], MORE[7], MORE[11], MORE[16]],
)
def test_random_missing_gradients_match_torch(name, kw):
    # Which parameters get a gradient changes at random: exercises the switches between the
    # whole-bucket update and the per-parameter one (different steps per parameter).
    rng = np.random.default_rng(11)
    masks = rng.random((25, len(INIT))) < 0.6
    out = []
    for lib, mod in ((torch, torch.optim), (cr, optim)):
        ps = [lib.tensor(a, requires_grad=True) for a in INIT]
        opt = getattr(mod, name)(ps, **kw)
        for k in range(25):
            opt.zero_grad()
            used = [p for p, m in zip(ps, masks[k], strict=True) if m]
            if not used:
                continue
            sum(((p - 0.3) ** 2).sum() + 0.1 * (p**4).sum() for p in used).backward()
            opt.step()
        out.append(([p.detach().numpy().copy() for p in ps], opt.state_dict()))
    for x, y in zip(out[0][0], out[1][0], strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-12)
    tstate, cstate = out[0][1]["state"], out[1][1]["state"]
    assert set(tstate) == set(cstate)
    for i in tstate:
        for key in ("step", "mu_product"):
            if key in tstate[i]:
                assert float(cstate[i][key]) == float(tstate[i][key]), key


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam"])
def test_signature_defaults_and_repr_match_torch(name):
    import inspect

    ours, theirs = getattr(optim, name), getattr(torch.optim, name)
    sig = [(p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()]
    ref = [(p.name, p.kind, p.default) for p in inspect.signature(theirs).parameters.values()]
    assert sig == ref
    ps = [cr.tensor(a, requires_grad=True) for a in INIT]
    tps = [torch.tensor(a, requires_grad=True) for a in INIT]
    assert repr(ours(ps)) == repr(theirs(tps))


def test_nadam_mu_product_at_uneven_steps_moves_both_ways():
    # Parameters at different steps carry different mu_products (0-d float32, multiplied in
    # float32 as torch does); the state goes to torch and back mid-run and both continue alike.
    rng = np.random.default_rng(3)
    masks = rng.random((16, len(INIT))) < 0.6
    kw = dict(lr=0.05, momentum_decay=0.3, betas=(0.5, 0.9))

    def steps(lib, opt, ps, rows):
        for m in rows:
            opt.zero_grad()
            used = [p for p, u in zip(ps, m, strict=True) if u]
            if used:
                sum(((p - 0.3) ** 2).sum() + 0.1 * (p**4).sum() for p in used).backward()
                opt.step()
        return [p.detach().numpy().copy() for p in ps]

    tps = [torch.tensor(a, requires_grad=True) for a in INIT]
    cps = [cr.tensor(a, requires_grad=True) for a in INIT]
    topt, copt = torch.optim.NAdam(tps, **kw), optim.NAdam(cps, **kw)
    steps(torch, topt, tps, masks[:8])
    steps(cr, copt, cps, masks[:8])
    tsd, csd = topt.state_dict(), copt.state_dict()
    for i, st in tsd["state"].items():
        assert list(csd["state"][i]) == ["step", "mu_product", "exp_avg", "exp_avg_sq"]
        mu = csd["state"][i]["mu_product"]
        assert mu.dtype == cr.float32 and mu.shape == ()
        assert float(mu) == st["mu_product"].item()
    assert len({float(s["mu_product"]) for s in csd["state"].values()}) > 1
    # torch's state into chainrule, chainrule's into chainrule: both continue as torch does.
    c2 = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tps]
    c2opt = optim.NAdam(c2, **kw)
    c2opt.load_state_dict(_sd_to_cr(tsd))
    assert c2opt.state[c2[0]]["mu_product"].dtype == cr.float32
    c3 = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in cps]
    c3opt = optim.NAdam(c3, **kw)
    c3opt.load_state_dict(csd)
    ref = steps(torch, topt, tps, masks[8:])
    for got in (steps(cr, c2opt, c2, masks[8:]), steps(cr, c3opt, c3, masks[8:])):
        for x, y in zip(ref, got, strict=True):
            np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-12)
    # torch casts a loaded mu_product to the parameter's dtype (it keeps 'step' float32); it
    # still continues like the original to within float32 rounding of mu_product.
    t2 = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in cps]
    t2opt = torch.optim.NAdam(t2, **kw)
    t2opt.load_state_dict(_sd_to_torch(csd))
    assert t2opt.state[t2[0]]["mu_product"].dtype == torch.float64
    for x, y in zip(ref, steps(torch, t2opt, t2, masks[8:]), strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-6)


def _mnist_example_losses(lib, state, x, y):
    """PyTorch's MNIST example (examples/mnist/main.py), smaller: its Net, Adadelta(lr=1.0),
    StepLR(gamma=0.7), nll_loss; dropout off (eval mode) so both libraries see the same net."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(8 * 4 * 4, 16)
            self.fc2 = nn.Linear(16, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = lib.flatten(self.dropout1(x), 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    model = Net()
    model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    model.eval()
    optimizer = lib.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = lib.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for _epoch in range(3):
        for k in range(0, len(x), 8):
            optimizer.zero_grad()
            loss = F.nll_loss(model(lib.tensor(x[k : k + 8])), lib.tensor(y[k : k + 8]))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    return losses


def test_pytorch_mnist_example_with_adadelta_matches_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    shapes = {
        "conv1.weight": (4, 1, 3, 3),
        "conv1.bias": (4,),
        "conv2.weight": (8, 4, 3, 3),
        "conv2.bias": (8,),
        "fc1.weight": (16, 128),
        "fc1.bias": (16,),
        "fc2.weight": (10, 16),
        "fc2.bias": (10,),
    }
    state = {k: (rng.standard_normal(s) * 0.3).astype(np.float32) for k, s in shapes.items()}
    ref = _mnist_example_losses(torch, state, x, y)
    got = _mnist_example_losses(cr, state, x, y)
    assert ref[-1] < ref[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
