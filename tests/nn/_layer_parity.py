"""Shared helpers for layer tests: load torch's state_dict into chainrule and compare outputs and
every gradient (input and parameters) in float32 and float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr

TOL = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-10)}


def copy_weights(c_mod: Any, t_mod: Any) -> None:
    """Load torch's state_dict into the chainrule module (same keys, same shapes)."""
    assert list(c_mod.state_dict()) == list(t_mod.state_dict()), "state_dict keys differ"
    for (k, a), (_, b) in zip(c_mod.state_dict().items(), t_mod.state_dict().items()):
        assert tuple(a.shape) == tuple(b.shape), f"{k}: {tuple(a.shape)} vs {tuple(b.shape)}"
    c_mod.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in t_mod.state_dict().items()})


def _flat(out: Any) -> list:
    if isinstance(out, tuple | list):
        res = []
        for o in out:
            res += _flat(o)
        return res
    return [] if out is None else [out]


def compare_layer(
    torch: Any,
    make: Callable[[Any], tuple[Any, Any]],
    inputs: list[np.ndarray],
    dtype: str = "float64",
    call: Callable | None = None,
    grad_inputs: bool = True,
    const: tuple[int, ...] = (),
) -> None:
    """Build (chainrule, torch) layers with ``make(lib)``, load torch's weights, run both on the
    same inputs, and compare every output and every gradient. Inputs whose index is in
    ``const`` (masks) never require grad."""
    rtol, atol = TOL[dtype]
    t_mod = make(torch.nn)
    c_mod = make(cr.nn)
    getattr(t_mod, "double" if dtype == "float64" else "float")()
    getattr(c_mod, "double" if dtype == "float64" else "float")()
    copy_weights(c_mod, t_mod)
    t_in = [
        torch.tensor(a.astype(dtype), requires_grad=grad_inputs and i not in const)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f"
        else (torch.tensor(a) if isinstance(a, np.ndarray) else a)
        for i, a in enumerate(inputs)
    ]
    c_in = [
        cr.tensor(a.astype(dtype), requires_grad=grad_inputs and i not in const)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f"
        else (cr.tensor(a) if isinstance(a, np.ndarray) else a)
        for i, a in enumerate(inputs)
    ]
    call = call or (lambda m, *xs: m(*xs))
    t_out = _flat(call(t_mod, *t_in))
    c_out = _flat(call(c_mod, *c_in))
    assert len(t_out) == len(c_out)
    rng = np.random.default_rng(3)
    t_loss, c_loss = 0, 0
    for k, (c, t) in enumerate(zip(c_out, t_out)):
        assert tuple(c.shape) == tuple(t.shape), f"output {k}: {c.shape} vs {tuple(t.shape)}"
        assert c.dtype.name == str(t.dtype).split(".")[-1], f"output {k}: {c.dtype} vs {t.dtype}"
        np.testing.assert_allclose(
            c.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"output {k}"
        )
        if t.is_floating_point() and t.requires_grad:
            u = rng.standard_normal(tuple(t.shape))
            t_loss = t_loss + (t * torch.tensor(u.astype(dtype))).sum()
            c_loss = c_loss + (c * cr.tensor(u.astype(dtype))).sum()
    if isinstance(t_loss, int):
        return
    t_loss.backward()
    c_loss.backward()
    for i, (c, t) in enumerate(zip(c_in, t_in)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            np.testing.assert_allclose(
                c.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i} grad"
            )
    for (name, cp), (_, tp) in zip(c_mod.named_parameters(), t_mod.named_parameters()):
        tg = np.zeros(tuple(tp.shape)) if tp.grad is None else tp.grad.numpy()
        cg = np.zeros(tuple(cp.shape)) if cp.grad is None else cp.grad.numpy()
        np.testing.assert_allclose(cg, tg, rtol=rtol, atol=atol, err_msg=f"grad of {name}")


def gradcheck_layer(make: Callable[[Any], Any], inputs: list[np.ndarray], call=None) -> None:
    """float64 central-difference check w.r.t. the float inputs and every parameter."""
    from helpers import check_grads

    mod = make(cr.nn).double()
    names = [n for n, _ in mod.named_parameters()]
    params = [p.detach().numpy().copy() for _, p in mod.named_parameters()]
    n_in = len(inputs)
    call = call or (lambda m, *xs: m(*xs))

    def fn(*ts):
        xs, ps = ts[:n_in], ts[n_in:]
        for name, p in zip(names, ps):
            _set_param(mod, name, p)
        return tuple(o for o in _flat(call(mod, *xs)) if o.is_floating_point())

    check_grads(fn, [*inputs, *params], mode="proj", n_proj=2)


def _set_param(mod: Any, name: str, value: Any) -> None:
    *path, leaf = name.split(".")
    for p in path:
        mod = getattr(mod, p)
    # bypass Parameter registration: the checker passes plain tensors that require grad
    mod._parameters[leaf] = value
