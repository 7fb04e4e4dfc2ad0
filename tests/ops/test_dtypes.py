"""Dtype policy: float32 (and float16 storage) in → same dtype out and same-dtype gradients for
every op; type promotion equal to torch.result_type, incl. Python scalars and 0-d tensors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import float_outputs
from opdb import all_specs, cases, make_inputs

import chainrule as cr


def _call(spec, sample, dtype):
    arrays = make_inputs(spec, sample)
    inputs, leaves, kwargs = [], [], dict(sample.kwargs)
    for a in arrays:
        if isinstance(a, int | float):
            inputs.append(a)
        elif a.dtype.kind == "f":
            t = cr.tensor(a, dtype=dtype, requires_grad=True)
            inputs.append(t)
            leaves.append(t)
        else:
            kwargs["index"] = a
    return spec.fn(*inputs, **kwargs), leaves


@pytest.mark.parametrize("dtype", [cr.float32, cr.float16], ids=["float32", "float16"])
@pytest.mark.parametrize(("spec", "sample"), cases(all_specs()))
def test_dtype_preserved_forward_and_backward(spec, sample, dtype):
    if dtype is cr.float16 and not spec.float16:
        pytest.skip("op does not take float16")
    out, leaves = _call(spec, sample, dtype)
    outs = float_outputs(out)
    if spec.preserves_dtype:
        for o in outs:
            assert o.dtype == dtype, f"{spec.name}: output dtype {o.dtype}, input {dtype}"
            assert type(o.numpy(force=True)) is np.ndarray
    used = [o for o in outs if o.requires_grad]
    if not used:
        return
    cr.autograd.backward(used, [cr.ones_like(o) for o in used])
    for t in leaves:
        if t.grad is not None:
            assert t.grad.dtype == dtype, f"{spec.name}: grad dtype {t.grad.dtype} for {dtype}"
            assert t.grad.shape == t.shape


# ------------------------------------------------------------------ promotion vs torch

torch = None
_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _pair_values():
    """(description, chainrule operand, torch operand) for tensors, 0-d tensors and scalars."""
    t = pytest.importorskip("torch")
    vals = []
    for name in _NAMES:
        base = np.array([1, 0, 1]).astype(name)
        vals.append((f"{name}[3]", cr.tensor(base), t.tensor(base)))
        vals.append((f"{name}[]", cr.tensor(base[0]), t.tensor(base[0])))
    for scalar in (True, 2, 2.5):
        vals.append((f"py-{type(scalar).__name__}", scalar, scalar))
    return vals


def test_result_type_matches_torch():
    t = pytest.importorskip("torch")
    vals = _pair_values()
    bad = []
    for (da, ca, ta), (db, cb, tb) in itertools.product(vals, vals):
        if not (isinstance(ca, cr.Tensor) or isinstance(cb, cr.Tensor)):
            continue
        want = str(t.result_type(ta, tb)).split(".")[-1]
        got = cr.result_type(ca, cb).name
        if got != want:
            bad.append(f"{da} ⊕ {db}: {got} (torch {want})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "maximum", "minimum", "pow", "eq"])
def test_binary_op_output_dtype_matches_torch(op):
    t = pytest.importorskip("torch")
    vals = _pair_values()
    bad = []
    for (da, ca, ta), (db, cb, tb) in itertools.product(vals, vals):
        if not isinstance(ca, cr.Tensor):
            continue
        if op in ("maximum", "minimum") and not isinstance(cb, cr.Tensor):
            continue  # torch takes tensors only; chainrule also accepts scalars
        if op == "pow" and da.startswith("bool") and "bool" in db:
            continue  # torch has no bool ** bool kernel
        try:
            want = getattr(t, op)(ta, tb)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                getattr(cr, op)(ca, cb)
            continue
        got = getattr(cr, op)(ca, cb)
        w = str(want.dtype).split(".")[-1]
        if got.dtype.name != w or tuple(got.shape) != tuple(want.shape):
            bad.append(f"{op}({da}, {db}): {got.dtype.name}{tuple(got.shape)} (torch {w})")
    assert not bad, "\n".join(bad)


def test_weak_scalars_keep_float32():
    x = cr.ones(3)
    for y in (x * 2.0, x + 1, 2.0 / x, x**2, x - np.float64(1.0), x * np.float64(3)):
        assert y.dtype == cr.float32


def test_int_division_gives_default_float():
    a = cr.tensor([1, 2, 3])
    assert (a / 2).dtype == cr.float32
    assert (a / a).dtype == cr.float32
    assert (a // 2).dtype == cr.int64


def test_reductions_return_0d_tensors_not_numpy_scalars():
    x = cr.ones(3, 4)
    for r in (x.sum(), x.mean(), x.max(), x.prod(), x.var(), x.norm(), x.logsumexp((0, 1))):
        assert type(r._data) is np.ndarray and r.shape == () and r.dtype == cr.float32


def test_float16_is_storage_computed_in_float32():
    x = cr.tensor([60000.0, 60000.0], dtype=cr.float16)
    # the sum overflows float16 only if it were accumulated in float16
    assert (x / 2).sum().item() == pytest.approx(60000.0)
