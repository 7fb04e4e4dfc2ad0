"""OpSpecs for the core primitives (elementwise, reduction, shape, indexing, linalg) and
softmax / log_softmax. Collected by ``tests/opdb.py``."""

from __future__ import annotations

import numpy as np
from opdb import BCAST, OpSpec, Sample

import chainrule as cr
from chainrule.ops import elementwise as E
from chainrule.ops import shape as S

F64 = np.dtype(np.float64)


def _api(name):
    """``cr.name`` and ``torch.name`` called the same way."""
    return (
        lambda *a, **k: getattr(cr, name)(*a, **k),
        lambda T, *a, **k: getattr(T, name)(*a, **k),
    )


def _unary(op, domain=(-2.0, 2.0), kinks=(), name=None, shapes=((2, 3), (), (5,), (2, 1, 3))):
    fn, ref = _api(name or op)
    return OpSpec(op, fn, ref, [Sample((s,)) for s in shapes], domain=domain, kinks=kinks)


def _binary(op, domain=(-2.0, 2.0), scalars=(1.5,), kinks=(), name=None):
    fn, ref = _api(name or op)
    samples = [Sample(pair) for pair in BCAST] + [Sample(((2, 3), (2, 3)))]
    for c in scalars:
        samples += [Sample(((2, 3), c), name=f"scalar-right-{c}")]
        samples += [Sample((c, (2, 3)), name=f"scalar-left-{c}")]
    return OpSpec(op, fn, ref, samples, domain=domain, kinks=kinks)


def _remainder_inputs(rng):
    # Keep x / y away from integers, where remainder jumps.
    y = rng.uniform(0.8, 1.6, (3,))
    x = (rng.integers(-3, 3, (2, 3)) + rng.uniform(0.2, 0.8, (2, 3))) * y
    return [x, y]


def _reduction(op, dims, domain=(-2.0, 2.0), kinks=(), extra=(), name=None, shape=(2, 3, 4)):
    fn, ref = _api(name or op)
    samples = []
    for d in dims:
        for keep in (False, True):
            kw = {} if d is None else {"dim": d, "keepdim": keep}
            if d is None and keep:
                continue
            samples.append(Sample((shape,), kw, name=f"dim{d}-keep{keep}"))
    samples += list(extra)
    return OpSpec(
        op, fn, ref, samples, domain=domain, kinks=kinks, kind="reduction", name=name or op
    )


def _prod_with_zeros(n_zero):
    def make(rng):
        x = rng.uniform(0.5, 1.5, (3, 4))
        x.reshape(-1)[[1, 6][:n_zero]] = 0.0
        return [x]

    return make


def _where_fn(x, y, cond):
    return cr.where(cr.tensor(cond), x, y)


def _where_ref(T, x, y, cond):
    return T.where(T.tensor(cond), x, y)


def _clamp_samples():
    return [
        Sample(((2, 3),), {"min": -0.5, "max": 0.5}),
        Sample(((4,),), {"min": -0.5}),
        Sample(((4,),), {"max": 0.3}),
        Sample(((),), {"min": -0.5, "max": 0.5}),
    ]


def _setitem_fn(x, v, index):
    y = x * 1.0
    y[index] = v
    return y


def _setitem_ref(T, x, v, index):
    y = x * 1.0
    y[T.tensor(index) if isinstance(index, np.ndarray) else index] = v
    return y


def _getitem_samples():
    mask = np.array([[True, False, True, False], [False, False, True, True], [True] * 4])
    return [
        Sample(((3, 4),), {"index": (1,)}, name="int"),
        Sample(((3, 4),), {"index": (slice(0, 2), slice(1, None, 2))}, name="slices"),
        Sample(((2, 3, 4),), {"index": (Ellipsis, 1)}, name="ellipsis"),
        Sample(((3, 4),), {"index": (None, slice(None), -1)}, name="none"),
        Sample(((3, 4),), {"index": (mask,)}, name="boolmask"),
        Sample(((3, 4),), {"index": (np.array([0, 2, 0]),)}, name="intarray-repeat"),
        Sample(((3, 4),), {"index": (np.array([0, 2]), np.array([1, 3]))}, name="two-arrays"),
        Sample(((2, 3, 4),), {"index": (slice(None), np.array([2, 0, 2]), 1)}, name="mixed"),
        Sample(((5,),), {"index": (slice(-3, None),)}, name="negstart"),
    ]


def _index(T, index):
    return tuple(T.tensor(i) if isinstance(i, np.ndarray) else i for i in index)


def _pad_ref(T, x, widths):
    flat = []
    for b, a in reversed(widths):
        flat += [b, a]
    return T.nn.functional.pad(x, tuple(flat))


_EINSUM = [
    ("ij,jk->ik", (3, 4), (4, 2)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
    ("ii->i", (3, 3)),
    ("ij->", (2, 3)),
    ("i,i", (4,), (4,)),
    ("ij,kj", (2, 3), (4, 3)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
    ("...ij,...jk->...ik", (2, 3, 4), (4, 2)),
    ("ij->ji", (2, 3)),
]

_MATMUL = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((3, 4), (2, 4, 5)),
    ((5,), (2, 5, 3)),
]


def _gather_inputs(dim):
    def make(rng):
        x = rng.uniform(-2, 2, (3, 4))
        size = x.shape[dim]
        index = rng.integers(0, size, (2, 3) if dim == 0 else (3, 5))
        return [x, index]

    return make


SPECS: list[OpSpec] = [
    # ------------------------------------------------------------ elementwise
    _binary("add"),
    _binary("sub"),
    _binary("mul"),
    _binary("div", domain=(0.5, 2.0)),
    OpSpec(
        "pow",
        *_api("pow"),
        [Sample(pair) for pair in BCAST]
        + [
            Sample(((2, 3), 2.0), name="square"),
            Sample(((2, 3), 0.5), name="sqrt"),
            Sample(((2, 3), -1.5), name="neg-exp"),
            Sample(((2, 3), 3), name="int-exp"),
            Sample((2.0, (2, 3)), name="scalar-base"),
        ],
        domain=[(0.5, 2.0), (-1.5, 1.5)],
    ),
    OpSpec(
        "remainder",
        *_api("remainder"),
        [Sample(make=_remainder_inputs), Sample(((2, 3), 1.5), name="scalar")],
        domain=(0.1, 1.4),  # with the scalar 1.5: x / 1.5 stays inside (0, 1)
    ),
    OpSpec(
        "fmod",  # jumps where x / y is an integer, like remainder: the same inputs avoid them
        *_api("fmod"),
        [Sample(make=_remainder_inputs), Sample(((2, 3), 1.5), name="scalar")],
        domain=(0.1, 1.4),
    ),
    _binary("maximum", scalars=()),
    _binary("minimum", scalars=()),
    OpSpec("neg", *_api("neg"), [Sample(((2, 3),)), Sample(((),))]),
    _unary("exp"),
    _unary("log", domain=(0.1, 5.0)),
    _unary("log1p", domain=(-0.5, 3.0)),
    _unary("sqrt", domain=(0.1, 5.0)),
    _unary("rsqrt", domain=(0.1, 5.0)),
    _unary("sin", domain=(-4.0, 4.0)),
    _unary("cos", domain=(-4.0, 4.0)),
    _unary("tanh", domain=(-3.0, 3.0)),
    _unary("sigmoid", domain=(-6.0, 6.0)),
    _unary("relu", kinks=(0.0,)),
    _unary("abs", kinks=(0.0,)),
    _unary("square"),
    _unary("reciprocal", domain=(0.5, 2.0)),
    _unary("erf", domain=(-3.0, 3.0)),
    OpSpec("clamp", *_api("clamp"), _clamp_samples(), kinks=(-0.5, 0.5, 0.3)),
    OpSpec(
        "where",
        _where_fn,
        _where_ref,
        [
            Sample(((2, 3), (2, 3)), {"cond": np.array([[True, False, True]] * 2)}),
            Sample(((2, 3), (3,)), {"cond": np.array([[True, False, False], [False, True, True]])}),
            Sample(((2, 3), 0.5), {"cond": np.array([True, False, True])}, name="scalar"),
        ],
    ),
    OpSpec(
        "to_dtype",
        lambda x: x.double() if x.dtype == cr.float32 else x.float(),
        lambda T, x: x.double() if x.dtype == T.float32 else x.float(),
        [Sample(((2, 3),)), Sample(((),))],
        preserves_dtype=False,
        check_fn=lambda x: E._cast_op(x, dtype=F64),
    ),
    # ------------------------------------------------------------ reductions
    _reduction("sum", [None, 1, -1, (0, 2)]),
    _reduction("mean", [None, 0, (1, 2)]),
    _reduction(
        "prod",
        [None, 1],
        domain=(0.5, 1.5),
        extra=[
            Sample(make=_prod_with_zeros(1), name="one-zero"),
            Sample(make=_prod_with_zeros(2), name="two-zeros"),
        ],
    ),
    _reduction("amax", [None, 1, (0, 2)]),
    _reduction("amin", [None, -1]),
    OpSpec(
        "max_dim",
        lambda x, dim, keepdim=False: tuple(cr.max(x, dim, keepdim)),
        lambda T, x, dim, keepdim=False: tuple(T.max(x, dim, keepdim)),
        [Sample(((2, 3, 4),), {"dim": d, "keepdim": k}) for d in (0, -1) for k in (False, True)],
        kind="reduction",
        name="max_dim",
    ),
    OpSpec(
        "min_dim",
        lambda x, dim, keepdim=False: tuple(cr.min(x, dim, keepdim)),
        lambda T, x, dim, keepdim=False: tuple(T.min(x, dim, keepdim)),
        [Sample(((3, 4),), {"dim": d, "keepdim": k}) for d in (0, 1) for k in (False, True)],
        kind="reduction",
    ),
    OpSpec(
        "amax",
        lambda x: cr.max(x),
        lambda T, x: T.max(x),
        [Sample(((3, 4),))],
        kind="reduction",
        name="max-full",
    ),
    _reduction("logsumexp", [1, (0, 2), -1]),
    _reduction(
        "var",
        [None, 1, (0, 2)],
        extra=[
            Sample(((3, 4),), {"dim": 1, "correction": 0}, name="correction0"),
            Sample(((3, 4),), {"dim": 0, "correction": 2, "keepdim": True}, name="correction2"),
        ],
    ),
    _reduction("var", [1], name="std"),
    OpSpec(
        "cumsum",
        *_api("cumsum"),
        [
            Sample(((3, 4),), {"dim": 0}),
            Sample(((3, 4),), {"dim": -1}),
            Sample(((5,),), {"dim": 0}),
        ],
        kind="reduction",
    ),
    OpSpec(
        "norm",
        *_api("norm"),
        [
            Sample(((3, 4),)),
            Sample(((3, 4),), {"p": 2, "dim": 1}),
            Sample(((3, 4),), {"p": 1, "dim": 0, "keepdim": True}),
            Sample(((3, 4),), {"p": float("inf"), "dim": 1}),
            Sample(((3, 4),), {"p": 3}),
            Sample(((2, 3, 4),), {"p": "fro", "dim": (1, 2)}),
        ],
        kinks=(0.0,),
        kind="reduction",
    ),
    OpSpec(
        "softmax",
        *_api("softmax"),
        [Sample(((2, 5),), {"dim": d}) for d in (-1, 0)] + [Sample(((2, 3, 4),), {"dim": 1})],
        domain=(-3.0, 3.0),
        kind="reduction",
    ),
    OpSpec(
        "log_softmax",
        *_api("log_softmax"),
        [Sample(((2, 5),), {"dim": d}) for d in (-1, 0)] + [Sample(((2, 3, 4),), {"dim": 1})],
        domain=(-3.0, 3.0),
        kind="reduction",
    ),
    # ------------------------------------------------------------ shape
    OpSpec(
        "reshape",
        *_api("reshape"),
        [Sample(((2, 3, 4),), {"shape": (6, -1)}), Sample(((6,),), {"shape": (2, 3)})],
    ),
    OpSpec(
        "reshape",
        lambda x: x.flatten(1),
        lambda T, x: x.flatten(1),
        [Sample(((2, 3, 4),))],
        name="flatten",
    ),
    OpSpec(
        "reshape",
        lambda x: x.unsqueeze(1).squeeze(),
        lambda T, x: x.unsqueeze(1).squeeze(),
        [Sample(((2, 1, 3),))],
        name="squeeze",
    ),
    OpSpec("permute", *_api("permute"), [Sample(((2, 3, 4),), {"dims": (2, 0, 1)})]),
    OpSpec(
        "permute",
        lambda x: x.transpose(0, -1),
        lambda T, x: x.transpose(0, -1),
        [Sample(((2, 3, 4),))],
        name="transpose",
    ),
    OpSpec(
        "expand",
        lambda x, size: x.expand(*size),
        lambda T, x, size: x.expand(*size),
        [
            Sample(((3, 1),), {"size": (3, 4)}),
            Sample(((1, 3),), {"size": (2, 4, -1)}),
            Sample(((),), {"size": (2, 2)}),
        ],
    ),
    OpSpec("flip", *_api("flip"), [Sample(((2, 3, 4),), {"dims": (0, 2)})]),
    OpSpec(
        "roll",
        *_api("roll"),
        [
            Sample(((3, 4),), {"shifts": 1, "dims": 1}),
            Sample(((3, 4),), {"shifts": (1, -2), "dims": (0, 1)}),
            Sample(((3, 4),), {"shifts": 5}),
        ],
    ),
    OpSpec(
        "cat",
        lambda *xs, dim=0: cr.cat(list(xs), dim),
        lambda T, *xs, dim=0: T.cat(list(xs), dim),
        [
            Sample(((2, 3), (1, 3), (4, 3))),
            Sample(((2, 3), (2, 1)), {"dim": -1}),
        ],
    ),
    OpSpec(
        "stack",
        lambda *xs, dim=0: cr.stack(list(xs), dim),
        lambda T, *xs, dim=0: T.stack(list(xs), dim),
        [Sample(((2, 3), (2, 3))), Sample(((2, 3), (2, 3), (2, 3)), {"dim": 2})],
    ),
    OpSpec(
        "split",
        *_api("split"),
        [
            Sample(((5, 3),), {"split_size_or_sections": 2}),
            Sample(((3, 6),), {"split_size_or_sections": [1, 2, 3], "dim": 1}),
        ],
    ),
    OpSpec(
        "split",
        lambda x: x.chunk(3, 1),
        lambda T, x: x.chunk(3, 1),
        [Sample(((2, 7),))],
        name="chunk",
    ),
    OpSpec(
        "split",
        lambda x: x.unbind(0),
        lambda T, x: x.unbind(0),
        [Sample(((3, 2),))],
        name="unbind",
    ),
    OpSpec(
        "pad",
        lambda x, widths: S.pad(x, widths=widths),
        _pad_ref,
        [
            Sample(((2, 3),), {"widths": ((1, 2), (0, 1))}),
            Sample(((3, 4),), {"widths": ((0, 0), (-1, 2))}, name="crop"),
        ],
    ),
    OpSpec("tril", *_api("tril"), [Sample(((3, 4),)), Sample(((2, 3, 3),), {"diagonal": -1})]),
    OpSpec("triu", *_api("triu"), [Sample(((3, 4),)), Sample(((3, 3),), {"diagonal": 1})]),
    OpSpec(
        "repeat",
        lambda x, reps: x.repeat(*reps),
        lambda T, x, reps: x.repeat(*reps),
        [Sample(((2, 3),), {"reps": (2, 1)}), Sample(((3,),), {"reps": (2, 2)})],
    ),
    # ------------------------------------------------------------ indexing
    OpSpec(
        "getitem",
        lambda x, index: x[index],
        lambda T, x, index: x[_index(T, index)],
        _getitem_samples(),
    ),
    OpSpec(
        "gather",
        lambda x, index, dim: cr.gather(x, dim, cr.tensor(index)),
        lambda T, x, index, dim: T.gather(x, dim, T.tensor(index)),
        [
            Sample(make=_gather_inputs(0), kwargs={"dim": 0}, name="dim0"),
            Sample(make=_gather_inputs(1), kwargs={"dim": 1}, name="dim1"),
        ],
    ),
    OpSpec(
        "scatter_add",
        lambda x, src, index, dim: cr.scatter_add(x, dim, cr.tensor(index), src),
        lambda T, x, src, index, dim: T.scatter_add(x, dim, T.tensor(index), src),
        [
            Sample(
                make=lambda rng: [rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (2, 4))],
                kwargs={"index": np.array([[0, 1, 2, 0], [0, 0, 1, 2]]), "dim": 0},
            ),
            Sample(
                make=lambda rng: [rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 3))],
                kwargs={"index": np.array([[0, 1, 1], [3, 3, 3], [2, 0, 1]]), "dim": 1},
                name="smaller-index",
            ),
        ],
    ),
    OpSpec(
        "index_select",
        lambda x, index, dim: cr.index_select(x, dim, cr.tensor(index)),
        lambda T, x, index, dim: T.index_select(x, dim, T.tensor(index)),
        [
            Sample(((3, 4),), {"index": np.array([2, 0, 2]), "dim": 0}),
            Sample(((3, 4),), {"index": np.array([1, 3]), "dim": -1}),
        ],
    ),
    OpSpec(
        "masked_fill",
        lambda x, mask, value: cr.masked_fill(x, cr.tensor(mask), value),
        lambda T, x, mask, value: T.masked_fill(x, T.tensor(mask), value),
        [
            Sample(((2, 3),), {"mask": np.array([[True, False, True]] * 2), "value": 0.5}),
            Sample(((2, 3),), {"mask": np.array([False, True, False]), "value": -1.0}),
        ],
    ),
    OpSpec(
        "index_put",
        _setitem_fn,
        _setitem_ref,
        [
            Sample(((3, 4), (4,)), {"index": 1}, name="row"),
            Sample(((3, 4), (2, 2)), {"index": (slice(0, 2), slice(1, 3))}, name="block"),
            Sample(((3, 4), ()), {"index": np.array([True, False, True])}, name="mask-scalar"),
        ],
    ),
    # ------------------------------------------------------------ linalg
    OpSpec("matmul", *_api("matmul"), [Sample(p) for p in _MATMUL], kind="reduction"),
    OpSpec(
        "einsum",
        lambda *xs, equation: cr.einsum(equation, *xs),
        lambda T, *xs, equation: T.einsum(equation, *xs),
        [Sample(tuple(e[1:]), {"equation": e[0]}, name=e[0]) for e in _EINSUM],
        kind="reduction",
    ),
    OpSpec("outer", *_api("outer"), [Sample(((3,), (4,)))], kind="reduction"),
    # ------------------------------------------------------------ review: more of torch's ops
    OpSpec("clone", *_api("clone"), [Sample(((2, 3),)), Sample(((),))]),
    _binary("fmax", scalars=()),
    _binary("fmin", scalars=()),
    _unary("angle"),
    _unary("erfinv", domain=(-0.95, 0.95)),
    _unary("erfc", domain=(-3.0, 3.0)),
    OpSpec(
        "special_erfcx",
        lambda x: cr.special.erfcx(x),
        lambda T, x: T.special.erfcx(x),
        [Sample(((2, 3),)), Sample(((),)), Sample(((5,),))],
        domain=(-3.0, 8.0),
    ),
    OpSpec(
        "special_log_ndtr",
        lambda x: cr.special.log_ndtr(x),
        lambda T, x: T.special.log_ndtr(x),
        [Sample(((2, 3),)), Sample(((),)), Sample(((5,),))],
        domain=(-12.0, 5.0),
    ),
    _unary("i0", domain=(-4.0, 4.0)),
    OpSpec(
        "special_i1",
        lambda x: cr.special.i1(x),
        lambda T, x: T.special.i1(x),
        [Sample(((2, 3),)), Sample(((),))],
        domain=(-4.0, 4.0),
    ),
    OpSpec(
        "special_i0e",
        lambda x: cr.special.i0e(x),
        lambda T, x: T.special.i0e(x),
        [Sample(((2, 3),)), Sample(((),))],
        domain=(-20.0, 20.0),
        kinks=(0.0,),
    ),
    OpSpec(
        "special_i1e",
        lambda x: cr.special.i1e(x),
        lambda T, x: T.special.i1e(x),
        [Sample(((2, 3),)), Sample(((),))],
        domain=(-20.0, 20.0),
        kinks=(0.0,),
    ),
    _unary("round", domain=(-2.9, 2.9), kinks=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)),
    _unary("floor", kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    _unary("ceil", kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    _unary("trunc", kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    _unary("sign", kinks=(0.0,)),
    OpSpec(
        "renorm",
        lambda x, p, dim, maxnorm: cr.renorm(x, p, dim, maxnorm),
        lambda T, x, p, dim, maxnorm: T.renorm(x, p, dim, maxnorm),
        [
            Sample(((3, 4),), {"p": 2.0, "dim": 0, "maxnorm": 1.5}, name="p2-dim0"),
            Sample(((3, 4),), {"p": 1.0, "dim": 1, "maxnorm": 2.0}, name="p1-dim1"),
            Sample(((2, 3, 4),), {"p": 3.0, "dim": -1, "maxnorm": 1.0}, name="p3"),
            Sample(((3, 4),), {"p": float("inf"), "dim": 0, "maxnorm": 1.0}, name="pinf"),
        ],
        kind="reduction",
    ),
    OpSpec(
        "index_fill",
        lambda x, index, dim, value: cr.index_fill(x, dim, cr.tensor(index), value),
        lambda T, x, index, dim, value: T.index_fill(x, dim, T.tensor(index), value),
        [
            Sample(((3, 4),), {"index": np.array([0, 2]), "dim": 1, "value": -1.5}, name="dim1"),
            Sample(((3, 4),), {"index": np.array([-1]), "dim": 0, "value": 2.0}, name="neg"),
        ],
    ),
]
