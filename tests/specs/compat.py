"""OpSpecs for the extra primitives in ``chainrule/ops/compat.py`` (trigonometry, logs, cumprod,
scatter). Collected by ``tests/opdb.py``."""

from __future__ import annotations

import numpy as np
from opdb import BCAST, OpSpec, Sample

import chainrule as cr

_SHAPES = ((2, 3), (), (5,), (2, 1, 3))


def _api(name):
    return (
        lambda *a, **k: getattr(cr, name)(*a, **k),
        lambda T, *a, **k: getattr(T, name)(*a, **k),
    )


def _unary(op, domain=(-2.0, 2.0)):
    fn, ref = _api(op)
    return OpSpec(op, fn, ref, [Sample((s,)) for s in _SHAPES], domain=domain)


_atan2_fn, _atan2_ref = _api("atan2")

SPECS = [
    _unary("tan", domain=(-1.2, 1.2)),
    _unary("asin", domain=(-0.9, 0.9)),
    _unary("acos", domain=(-0.9, 0.9)),
    _unary("atan", domain=(-3.0, 3.0)),
    _unary("sinh", domain=(-3.0, 3.0)),
    _unary("cosh", domain=(-3.0, 3.0)),
    _unary("expm1", domain=(-3.0, 3.0)),
    _unary("exp2", domain=(-3.0, 3.0)),
    _unary("log2", domain=(0.2, 5.0)),
    _unary("log10", domain=(0.2, 5.0)),
    OpSpec(
        "atan2",
        _atan2_fn,
        _atan2_ref,
        [Sample(pair) for pair in BCAST] + [Sample(((2, 3), (2, 3)))],
        domain=[(0.3, 2.0), (0.3, 2.0)],
    ),
    OpSpec(
        "cumprod",
        lambda x, dim: cr.cumprod(x, dim),
        lambda T, x, dim: T.cumprod(x, dim),
        [
            Sample(((2, 3, 4),), {"dim": 1}),
            Sample(((5,),), {"dim": 0}),
            Sample(((3, 4),), {"dim": -1}, name="last"),
            Sample(
                make=lambda rng: [
                    np.where(rng.random((3, 4)) < 0.3, 0.0, rng.uniform(-2, 2, (3, 4)))
                ],
                kwargs={"dim": 1},
                name="zeros",
            ),
        ],
        kind="reduction",
    ),
    OpSpec(
        "scatter",
        lambda x, src, index, dim: cr.scatter(x, dim, cr.tensor(index), src),
        lambda T, x, src, index, dim: T.scatter(x, dim, T.tensor(index), src),
        [
            Sample(
                make=lambda rng: [rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (2, 4))],
                kwargs={"index": np.array([[0, 1, 2, 0], [1, 2, 0, 2]]), "dim": 0},
            ),
            Sample(
                make=lambda rng: [rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 3))],
                kwargs={"index": np.array([[0, 1, 3], [3, 2, 1], [2, 0, 1]]), "dim": 1},
                name="smaller-index",
            ),
        ],
        kind="reduction",
    ),
]
