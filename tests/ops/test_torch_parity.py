"""Every OpSpec sample against PyTorch: values, output dtypes and shapes, and gradients,
in float32 (rtol 1e-5 / atol 1e-6 elementwise, 1e-4 reductions and matmul) and float64."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import float_outputs
from opdb import TOL64, all_specs, cases, make_inputs

import chainrule as cr

torch = pytest.importorskip("torch")

_DTYPES = {"float32": (cr.float32, torch.float32), "float64": (cr.float64, torch.float64)}


def _split_inputs(arrays, dtype_name):
    """chainrule and torch inputs: float arrays in ``dtype_name`` requiring grad; ints and
    Python scalars passed through."""
    cdt, tdt = _DTYPES[dtype_name]
    c_in, t_in, leaves = [], [], []
    ints = {}
    for i, a in enumerate(arrays):
        if isinstance(a, int | float):
            c_in.append(a)
            t_in.append(a)
        elif a.dtype.kind == "f":
            c = cr.tensor(a, dtype=cdt, requires_grad=True)
            t = torch.tensor(a, dtype=tdt, requires_grad=True)
            c_in.append(c)
            t_in.append(t)
            leaves.append((c, t))
        else:
            ints[i] = a
    return c_in, t_in, leaves, ints


def run_both(spec, sample, dtype_name):
    """(chainrule outputs, torch outputs, leaf pairs) for one sample in one dtype."""
    arrays = make_inputs(spec, sample)
    c_in, t_in, leaves, ints = _split_inputs(arrays, dtype_name)
    kwargs = dict(sample.kwargs)
    if ints:
        kwargs["index"] = next(iter(ints.values()))
    c_out = spec.fn(*c_in, **kwargs)
    t_out = spec.ref(torch, *t_in, **kwargs)
    return c_out, t_out, leaves


def _as_list(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize(("spec", "sample"), cases([s for s in all_specs() if s.ref]))
def test_parity(spec, sample, dtype_name):
    rtol, atol = spec.tol32() if dtype_name == "float32" else TOL64
    c_out, t_out, leaves = run_both(spec, sample, dtype_name)
    c_list, t_list = _as_list(c_out), _as_list(t_out)
    assert len(c_list) == len(t_list), f"{len(c_list)} outputs vs torch's {len(t_list)}"
    for k, (c, t) in enumerate(zip(c_list, t_list)):
        assert tuple(c.shape) == tuple(t.shape), f"output {k}: shape {c.shape} vs {t.shape}"
        assert c.dtype.name == _dtype_name(t), f"output {k}: dtype {c.dtype} vs {t.dtype}"
        np.testing.assert_allclose(
            c.detach().numpy().astype(np.float64),
            t.detach().numpy().astype(np.float64),
            rtol=rtol,
            atol=atol,
            err_msg=f"output {k} values",
        )
    # Gradients of Σ_k <u_k, out_k> with the same random u_k on both sides.
    rng = np.random.default_rng(7)
    c_float = float_outputs(c_out)
    t_float = [t for t in t_list if t.is_floating_point()]
    us = [rng.standard_normal(c.shape) for c in c_float]
    c_pairs = [(c, u) for c, u in zip(c_float, us) if c.requires_grad]
    t_pairs = [(t, u) for t, u in zip(t_float, us) if t.requires_grad]
    assert len(c_pairs) == len(t_pairs), "which outputs require grad differs from torch"
    if not c_pairs:
        return
    cr.autograd.backward([c for c, _ in c_pairs], [cr.tensor(u, dtype=c.dtype) for c, u in c_pairs])
    torch.autograd.backward(
        [t for t, _ in t_pairs], [torch.tensor(u, dtype=t.dtype) for t, u in t_pairs]
    )
    for i, (c, t) in enumerate(leaves):
        tg = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        cg = np.zeros(c.shape) if c.grad is None else c.grad.numpy()
        if c.grad is not None:
            assert c.grad.dtype == c.dtype, f"grad {i} dtype {c.grad.dtype} != {c.dtype}"
            assert c.grad.shape == c.shape, f"grad {i} shape {c.grad.shape} != {c.shape}"
        np.testing.assert_allclose(
            cg.astype(np.float64),
            tg.astype(np.float64),
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of input {i}",
        )
