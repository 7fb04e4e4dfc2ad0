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


# ---------------------------------------------------------------- linear algebra (ops/linalg_extra)


def _well_conditioned(*shapes):
    def make(rng):
        out = []
        for s in shapes:
            a = rng.uniform(-1, 1, s)
            if len(s) >= 2 and s[-1] == s[-2]:
                a = a + 3 * np.eye(s[-1])
            out.append(a)
        return out

    return make


def _sym(lib, a):
    return a + a.transpose(-2, -1)


def _spd(lib, a):
    return a @ a.transpose(-2, -1) + lib.eye(a.shape[-1], dtype=a.dtype)


def _eigh_flat(lib, a):
    w, v = lib.linalg.eigh(_sym(lib, a))
    return lib.cat([w.reshape(-1), (v**2).reshape(-1)])


def _svd_flat(lib, a):
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    return lib.cat([s.reshape(-1), (u**2).reshape(-1), (vh**2).reshape(-1)])


_SQ = [(3, 3), (2, 4, 4)]

SPECS += [
    OpSpec(
        "linalg_inv",
        lambda a: cr.linalg.inv(a),
        lambda T, a: T.linalg.inv(a),
        [Sample(make=_well_conditioned(s), name=str(s)) for s in _SQ],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "linalg_slogdet",
        lambda a: cr.linalg.slogdet(a).logabsdet,
        lambda T, a: T.linalg.slogdet(a).logabsdet,
        [Sample(make=_well_conditioned(s), name=str(s)) for s in _SQ],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "linalg_solve",
        lambda a, b: cr.linalg.solve(a, b),
        lambda T, a, b: T.linalg.solve(a, b),
        [
            Sample(make=_well_conditioned((3, 3), (3, 2)), name="matrix"),
            Sample(make=_well_conditioned((2, 4, 4), (2, 4, 1)), name="batched"),
        ],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "linalg_cholesky",
        lambda a: cr.linalg.cholesky(_spd(cr, a)),
        lambda T, a: T.linalg.cholesky(_spd(T, a)),
        [Sample(((3, 3),)), Sample(((2, 4, 4),)), Sample(((3, 3),), {}, name="upper")],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "linalg_eigh",
        lambda a: _eigh_flat(cr, a),
        lambda T, a: _eigh_flat(T, a),
        [Sample(((3, 3),)), Sample(((2, 4, 4),))],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "linalg_svd",
        lambda a: _svd_flat(cr, a),
        lambda T, a: _svd_flat(T, a),
        [Sample(((4, 3),)), Sample(((3, 5),)), Sample(((2, 3, 3),))],
        kind="reduction",
        float16=False,
    ),
]
