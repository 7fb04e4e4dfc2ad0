"""float64 central-difference gradient check of every OpSpec sample (DESIGN §5.1)."""

from __future__ import annotations

import pytest
from helpers import check_grads
from opdb import all_specs, cases, make_inputs


@pytest.mark.parametrize(("spec", "sample"), cases(all_specs()))
def test_gradcheck(spec, sample):
    arrays = make_inputs(spec, sample)
    fn = spec.check_fn or spec.fn
    kwargs = sample.kwargs
    # Python scalars stay constants; ndarrays from ``make`` are tensors (floats differentiated).
    tensor_pos = [i for i, a in enumerate(arrays) if not isinstance(a, int | float)]
    consts = {i: a for i, a in enumerate(arrays) if isinstance(a, int | float)}
    float_pos = [i for i in tensor_pos if arrays[i].dtype.kind == "f"]
    ints = {i: arrays[i] for i in tensor_pos if arrays[i].dtype.kind != "f"}

    def call(*ts):
        full = list(consts.items()) + list(zip(float_pos, ts))
        full += [(i, v) for i, v in ints.items()]
        args = [v for _, v in sorted(full, key=lambda p: p[0])]
        # integer arrays from ``make`` (gather's index) are passed as keyword ``index``
        if ints:
            args = [a for i, a in enumerate(args) if i not in ints]
            return fn(*args, **kwargs, index=next(iter(ints.values())))
        return fn(*args, **kwargs)

    check_grads(call, [arrays[i] for i in float_pos])
