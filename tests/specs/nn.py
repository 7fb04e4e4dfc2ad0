"""OpSpecs for the fused nn ops of part 1: linear, activations, losses, norms, dropout,
embedding. Collected by ``tests/opdb.py``; each is called through ``chainrule.nn.functional``
(``fn``) and ``torch.nn.functional`` (``ref``) the same way."""

from __future__ import annotations

import numpy as np
from opdb import OpSpec, Sample

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.nn import misc as M


def _F(name, **fixed):
    """``F.name`` and ``torch.nn.functional.name`` called the same way."""
    return (
        lambda *a, **k: getattr(F, name)(*a, **fixed, **k),
        lambda T, *a, **k: getattr(T.nn.functional, name)(*a, **fixed, **k),
    )


def _act(op, name=None, domain=(-3.0, 3.0), kinks=(), spec_name=None, **fixed):
    fn, ref = _F(name or op, **fixed)
    shapes = [(2, 3), (), (4, 1, 3)]
    return OpSpec(
        op,
        fn,
        ref,
        [Sample((s,)) for s in shapes],
        domain=domain,
        kinks=kinks,
        name=spec_name or (name or op),
    )


# ------------------------------------------------------------------ linear

_LINEAR = OpSpec(
    "linear",
    *_F("linear"),
    [
        Sample(((4, 3), (5, 3), (5,)), name="2d-bias"),
        Sample(((2, 4, 3), (5, 3), (5,)), name="3d-bias"),
        Sample(((3,), (5, 3), (5,)), name="1d-bias"),
        Sample(((4, 3), (5, 3)), name="nobias"),
    ],
    kind="reduction",
)


def _chain(relu_last: bool) -> OpSpec:
    """The fused Linear/ReLU stack of ``Sequential``: two layers, ReLU between (and after)."""
    from chainrule.ops.nn import linear as L

    relu = (True, relu_last)
    op = L.linear_relu_chain if relu_last else L.linear_chain

    def fn(x, w1, b1, w2, b2):
        return op(x, w1, b1, w2, b2, relu=relu)

    def ref(T, x, w1, b1, w2, b2):
        y = T.nn.functional.linear(T.relu(T.nn.functional.linear(x, w1, b1)), w2, b2)
        return T.relu(y) if relu_last else y

    return OpSpec(
        op.opdef.name,
        fn,
        ref,
        [Sample(((4, 3), (5, 3), (5,), (2, 5), (2,)), name="2-layer")],
        kind="reduction",
        name="linear_chain_relu_last" if relu_last else "linear_chain",
    )


_BILINEAR = OpSpec(
    "bilinear",
    *_F("bilinear"),
    [
        Sample(((4, 3), (4, 2), (5, 3, 2), (5,)), name="bias"),
        Sample(((2, 3), (2, 2), (1, 3, 2)), name="nobias"),
    ],
    kind="reduction",
)

# ------------------------------------------------------------------ activations

_ACTIVATIONS = [
    _act("gelu"),
    _act("gelu", spec_name="gelu-tanh", approximate="tanh"),
    _act("silu"),
    _act("mish"),
    _act("elu", kinks=(0.0,)),
    _act("elu", spec_name="elu-alpha", kinks=(0.0,), alpha=0.5),
    _act("elu", name="selu", kinks=(0.0,)),
    _act("elu", name="celu", spec_name="celu-alpha", kinks=(0.0,), alpha=2.0),
    _act("softplus", domain=(-30.0, 30.0)),
    _act("softplus", spec_name="softplus-beta", beta=2.0, threshold=5.0, kinks=(2.5,)),
    _act("leaky_relu", kinks=(0.0,)),
    _act("leaky_relu", spec_name="leaky_relu-slope", kinks=(0.0,), negative_slope=0.2),
    _act("hardtanh", kinks=(-1.0, 1.0)),
    _act("hardtanh", name="relu6", domain=(-2.0, 8.0), kinks=(0.0, 6.0)),
    _act("hardswish", domain=(-5.0, 5.0), kinks=(-3.0, 3.0)),
    _act("hardsigmoid", domain=(-5.0, 5.0), kinks=(-3.0, 3.0)),
    _act("logsigmoid", domain=(-30.0, 30.0)),
    _act("softsign"),
    _act("threshold", kinks=(0.5,), threshold=0.5, value=-1.0),
]

_PRELU = OpSpec(
    "prelu",
    *_F("prelu"),
    [
        Sample(((2, 3, 4), (3,)), name="per-channel"),
        Sample(((2, 3), (1,)), name="shared"),
    ],
    kinks=(0.0,),
    domain=[(-2.0, 2.0), (0.1, 0.5)],
)

# ------------------------------------------------------------------ losses


def _ce_targets(shape_in, n_cls, ignore=None, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, n_cls, shape_in)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


def _ce_fn(x, target, weight=None, **kw):
    w = None if weight is None else cr.tensor(weight, dtype=x.dtype)
    t = target if isinstance(target, cr.Tensor) else cr.tensor(target)
    return F.cross_entropy(x, t, w, **kw)


def _ce_ref(T, x, target, weight=None, **kw):
    w = None if weight is None else T.tensor(weight, dtype=x.dtype)
    t = target if T.is_tensor(target) else T.tensor(target)
    return T.nn.functional.cross_entropy(x, t, w, **kw)


def _nll_fn(x, target, weight=None, **kw):
    w = None if weight is None else cr.tensor(weight, dtype=x.dtype)
    return F.nll_loss(x, cr.tensor(target), w, **kw)


def _nll_ref(T, x, target, weight=None, **kw):
    w = None if weight is None else T.tensor(weight, dtype=x.dtype)
    return T.nn.functional.nll_loss(x, T.tensor(target), w, **kw)


_W4 = np.array([0.5, 2.0, 1.0, 1.5])
_CE_SAMPLES = []
for _red in ("mean", "sum", "none"):
    _CE_SAMPLES += [
        Sample(((5, 4),), {"target": _ce_targets((5,), 4), "reduction": _red}, name=f"2d-{_red}"),
        Sample(
            ((3, 4, 2, 2),),
            {"target": _ce_targets((3, 2, 2), 4), "reduction": _red},
            name=f"4d-{_red}",
        ),
        Sample(
            ((6, 4),),
            {"target": _ce_targets((6,), 4, ignore=-100), "weight": _W4, "reduction": _red},
            name=f"weight-ignore-{_red}",
        ),
        Sample(
            ((6, 4),),
            {
                "target": _ce_targets((6,), 4, ignore=1),
                "weight": _W4,
                "ignore_index": 1,
                "label_smoothing": 0.2,
                "reduction": _red,
            },
            name=f"smooth-weight-ignore-{_red}",
        ),
    ]
_CE_SAMPLES += [
    Sample(((4,),), {"target": np.array(2)}, name="unbatched"),
    Sample(((5, 4),), {"target": _ce_targets((5,), 4), "label_smoothing": 0.3}, name="smooth"),
    Sample(((2, 4, 3),), {"target": _ce_targets((2, 3), 4), "weight": _W4}, name="3d-weight"),
]

_CROSS_ENTROPY = OpSpec(
    "cross_entropy", _ce_fn, _ce_ref, _CE_SAMPLES, domain=(-4.0, 4.0), kind="reduction"
)


def _probs(shape, axis=1, seed=1):
    def make(rng):
        x = rng.uniform(-3, 3, shape)
        q = rng.uniform(0.05, 1.0, shape)
        return [x, q / q.sum(axis=axis, keepdims=True)]

    return make


_CROSS_ENTROPY_PROBS = OpSpec(
    "cross_entropy_probs",
    _ce_fn,
    _ce_ref,
    [
        Sample(make=_probs((5, 4)), name="2d"),
        Sample(make=_probs((5, 4)), kwargs={"reduction": "sum", "weight": _W4}, name="sum-w"),
        Sample(make=_probs((2, 4, 3)), kwargs={"reduction": "none"}, name="3d-none"),
        Sample(make=_probs((5, 4)), kwargs={"label_smoothing": 0.1}, name="smooth"),
    ],
    kind="reduction",
)

_NLL_SAMPLES = []
for _red in ("mean", "sum", "none"):
    _NLL_SAMPLES += [
        Sample(((5, 4),), {"target": _ce_targets((5,), 4), "reduction": _red}, name=f"2d-{_red}"),
        Sample(
            ((6, 4, 3),),
            {
                "target": _ce_targets((6, 3), 4, ignore=2),
                "ignore_index": 2,
                "weight": _W4,
                "reduction": _red,
            },
            name=f"3d-weight-ignore-{_red}",
        ),
    ]
_NLL = OpSpec("nll_loss", _nll_fn, _nll_ref, _NLL_SAMPLES, domain=(-4.0, 0.0), kind="reduction")


def _pairwise(op, samples_extra=(), domain=(-2.0, 2.0), kinks=(), **fixed):
    samples = [Sample(((3, 4), (3, 4)), {"reduction": r}, name=r) for r in ("mean", "sum", "none")]
    samples += [Sample(((2, 3, 2), (2, 3, 2)), name="3d")] + list(samples_extra)
    return OpSpec(op, *_F(op, **fixed), samples, domain=domain, kinks=kinks, kind="reduction")


def _regression_make(rng, shape=(3, 4), gap=0.05):
    # keep x − y away from 0 and from ±1 (the kinks of l1 / smooth_l1 / huber)
    x = rng.uniform(-2, 2, shape)
    d = rng.uniform(0.1, 0.8, shape) * rng.choice([-1.0, 1.0], shape)
    d = np.where(np.abs(np.abs(d) - 0.5) < gap, d * 1.3, d)
    return [x, x - d * 2.0]


_MSE = _pairwise("mse_loss")
_L1 = OpSpec(
    "l1_loss",
    *_F("l1_loss"),
    [
        Sample(make=_regression_make, kwargs={"reduction": r}, name=r)
        for r in ("mean", "sum", "none")
    ],
    kind="reduction",
)
_SMOOTH_L1 = OpSpec(
    "smooth_l1_loss",
    *_F("smooth_l1_loss"),
    [
        Sample(make=_regression_make, kwargs={"reduction": r}, name=r)
        for r in ("mean", "sum", "none")
    ]
    + [Sample(make=_regression_make, kwargs={"beta": 0.5}, name="beta0.5")],
    kind="reduction",
)
_HUBER = OpSpec(
    "huber_loss",
    *_F("huber_loss"),
    [
        Sample(make=_regression_make, kwargs={"reduction": r}, name=r)
        for r in ("mean", "sum", "none")
    ]
    + [Sample(make=_regression_make, kwargs={"delta": 0.5}, name="delta0.5")],
    kind="reduction",
)


def _bce_make(rng, shape=(3, 4)):
    return [rng.uniform(0.05, 0.95, shape), rng.uniform(0.0, 1.0, shape)]


def _bce_fn(x, t, weight=None, **kw):
    w = None if weight is None else cr.tensor(weight, dtype=x.dtype)
    return F.binary_cross_entropy(x, t, w, **kw)


def _bce_ref(T, x, t, weight=None, **kw):
    w = None if weight is None else T.tensor(weight, dtype=x.dtype)
    return T.nn.functional.binary_cross_entropy(x, t, w, **kw)


_BCE = OpSpec(
    "binary_cross_entropy",
    _bce_fn,
    _bce_ref,
    [Sample(make=_bce_make, kwargs={"reduction": r}, name=r) for r in ("mean", "sum", "none")]
    + [Sample(make=_bce_make, kwargs={"weight": np.array([1.0, 2.0, 0.5, 1.0])}, name="weight")],
    kind="reduction",
)


def _bcel_fn(x, t, weight=None, pos_weight=None, **kw):
    w = None if weight is None else cr.tensor(weight, dtype=x.dtype)
    pw = None if pos_weight is None else cr.tensor(pos_weight, dtype=x.dtype)
    return F.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, **kw)


def _bcel_ref(T, x, t, weight=None, pos_weight=None, **kw):
    w = None if weight is None else T.tensor(weight, dtype=x.dtype)
    pw = None if pos_weight is None else T.tensor(pos_weight, dtype=x.dtype)
    return T.nn.functional.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, **kw)


def _bcel_make(rng, shape=(3, 4)):
    return [rng.uniform(-4, 4, shape), rng.uniform(0.0, 1.0, shape)]


_BCE_LOGITS = OpSpec(
    "binary_cross_entropy_with_logits",
    _bcel_fn,
    _bcel_ref,
    [Sample(make=_bcel_make, kwargs={"reduction": r}, name=r) for r in ("mean", "sum", "none")]
    + [
        Sample(
            make=_bcel_make,
            kwargs={
                "weight": np.array([1.0, 2.0, 0.5, 1.0]),
                "pos_weight": np.array([3.0, 0.5, 1.0, 2.0]),
            },
            name="weight-pos_weight",
        )
    ],
    kind="reduction",
)


def _kl_make(rng, shape=(3, 4)):
    x = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))
    t = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    return [x, t]


def _kl_log_make(rng, shape=(3, 4)):
    x, t = _kl_make(rng, shape)
    return [x, np.log(t)]


_KL = OpSpec(
    "kl_div",
    *_F("kl_div"),
    [Sample(make=_kl_make, kwargs={"reduction": r}, name=r) for r in ("batchmean", "sum", "none")]
    + [
        Sample(
            make=_kl_log_make,
            kwargs={"reduction": "batchmean", "log_target": True},
            name="log_target",
        ),
    ],
    kind="reduction",
)

# ------------------------------------------------------------------ normalisation


def _bn_fn(x, w=None, b=None, rm=None, rv=None, training=True):
    rmt = None if rm is None else cr.tensor(rm, dtype=x.dtype)
    rvt = None if rv is None else cr.tensor(rv, dtype=x.dtype)
    return F.batch_norm(x, rmt, rvt, w, b, training=training)


def _bn_ref(T, x, w=None, b=None, rm=None, rv=None, training=True):
    rmt = None if rm is None else T.tensor(rm, dtype=x.dtype)
    rvt = None if rv is None else T.tensor(rv, dtype=x.dtype)
    return T.nn.functional.batch_norm(x, rmt, rvt, w, b, training=training)


_RM = np.array([0.1, -0.2, 0.3])
_RV = np.array([1.5, 0.5, 2.0])
_BATCH_NORM = OpSpec(
    "batch_norm",
    _bn_fn,
    _bn_ref,
    [
        Sample(((4, 3), (3,), (3,)), name="train-2d"),
        Sample(((2, 3, 4), (3,), (3,)), name="train-3d"),
        Sample(((2, 3, 2, 2), (3,), (3,)), name="train-4d"),
        Sample(((4, 3),), name="train-noaffine"),
        Sample(((4, 3), (3,), (3,)), {"rm": _RM, "rv": _RV}, name="train-running"),
        Sample(((2, 3, 4), (3,), (3,)), {"rm": _RM, "rv": _RV, "training": False}, name="eval"),
    ],
    kind="reduction",
)

_LAYER_NORM = OpSpec(
    "layer_norm",
    lambda x, *wb, shape: F.layer_norm(x, shape, *wb),
    lambda T, x, *wb, shape: T.nn.functional.layer_norm(x, shape, *wb),
    [
        Sample(((4, 5), (5,), (5,)), {"shape": (5,)}, name="1d"),
        Sample(((2, 3, 4), (3, 4), (3, 4)), {"shape": (3, 4)}, name="2d"),
        Sample(((2, 3, 4),), {"shape": (4,)}, name="noaffine"),
    ],
    kind="reduction",
)

_GROUP_NORM = OpSpec(
    "group_norm",
    lambda x, *wb, groups: F.group_norm(x, groups, *wb),
    lambda T, x, *wb, groups: T.nn.functional.group_norm(x, groups, *wb),
    [
        Sample(((2, 6, 3), (6,), (6,)), {"groups": 3}, name="3d"),
        Sample(((2, 4, 2, 2), (4,), (4,)), {"groups": 2}, name="4d"),
        Sample(((3, 4),), {"groups": 1}, name="noaffine"),
    ],
    kind="reduction",
)

_RMS_NORM = OpSpec(
    "rms_norm",
    lambda x, *w, shape, eps=None: F.rms_norm(x, shape, *w, eps=eps),
    lambda T, x, *w, shape, eps=None: T.nn.functional.rms_norm(x, shape, *w, eps=eps),
    [
        Sample(((4, 5), (5,)), {"shape": (5,), "eps": 1e-6}, name="1d"),
        Sample(((2, 3, 4), (3, 4)), {"shape": (3, 4), "eps": 1e-5}, name="2d"),
    ],
    kind="reduction",
)

# ------------------------------------------------------------------ dropout / embedding

_MASK = np.random.default_rng(3).random((3, 4)) >= 0.3
_DROPOUT = OpSpec(
    "dropout",
    lambda x: M.dropout(x, mask=_MASK, scale=1.0 / 0.7),
    lambda T, x: x * T.tensor(_MASK, dtype=x.dtype) * (1.0 / 0.7),
    [Sample(((3, 4),))],
)


def _emb_fn(w, idx, **kw):
    return F.embedding(cr.tensor(idx), w, **kw)


def _emb_ref(T, w, idx, **kw):
    return T.nn.functional.embedding(T.tensor(idx), w, **kw)


_IDX = np.array([[1, 2, 4], [4, 3, 1]])
_EMBEDDING = OpSpec(
    "embedding",
    _emb_fn,
    _emb_ref,
    [
        Sample(((5, 3),), {"idx": _IDX}, name="plain"),
        Sample(((5, 3),), {"idx": np.array(2)}, name="scalar-index"),
    ],
)


def _emb_padding_check(w, idx, padding_idx):
    # torch's padding row gets no gradient by design: mask the outputs that read it, so the
    # function gradcheck differentiates really is independent of that row.
    keep = cr.tensor((idx != padding_idx)[..., None].astype(np.float64), dtype=w.dtype)
    return F.embedding(cr.tensor(idx), w, padding_idx=padding_idx) * keep


_EMBEDDING_PADDING = OpSpec(
    "embedding",
    _emb_fn,
    _emb_ref,
    [Sample(((5, 3),), {"idx": _IDX, "padding_idx": 1}, name="padding")],
    check_fn=_emb_padding_check,
    name="embedding-padding",
)

# scale_grad_by_freq divides each row's gradient by its count in the batch: a heuristic, not a
# derivative, so gradcheck runs the plain lookup; torch parity checks the scaled gradient.
_EMBEDDING_FREQ = OpSpec(
    "embedding",
    _emb_fn,
    _emb_ref,
    [Sample(((5, 3),), {"idx": _IDX, "scale_grad_by_freq": True}, name="freq")],
    check_fn=lambda w, idx, scale_grad_by_freq: _emb_fn(w, idx),
    name="embedding-freq",
)

_IDENTITY_HOOK = OpSpec(
    "identity_hook",
    lambda x: M.identity_hook(x, hook=lambda gs: gs)[0],
    lambda T, x: x.clone(),
    [Sample(((2, 3),))],
)

SPECS = [
    _LINEAR,
    _chain(False),
    _chain(True),
    _BILINEAR,
    *_ACTIVATIONS,
    _PRELU,
    _CROSS_ENTROPY,
    _CROSS_ENTROPY_PROBS,
    _NLL,
    _MSE,
    _L1,
    _SMOOTH_L1,
    _HUBER,
    _BCE,
    _BCE_LOGITS,
    _KL,
    _BATCH_NORM,
    _LAYER_NORM,
    _GROUP_NORM,
    _RMS_NORM,
    _DROPOUT,
    _EMBEDDING,
    _EMBEDDING_PADDING,
    _EMBEDDING_FREQ,
    _IDENTITY_HOOK,
]
