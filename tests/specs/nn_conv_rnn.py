"""OpSpecs for the fused convolution, pooling, padding, recurrent and attention ops.

Each ``fn`` calls the public ``F.*`` (or the op itself for the recurrent kernels, which have no
torch functional form) and each ``ref`` the same thing in torch (an unrolled torch reference
for the recurrent kernels). Collected by ``tests/opdb.py``.
"""

from __future__ import annotations

import numpy as np
from opdb import OpSpec, Sample

import chainrule.nn.functional as F
from chainrule.ops.nn import attention as A
from chainrule.ops.nn import pooling as P
from chainrule.ops.nn import rnn as R


def _f(name):
    return (
        lambda *a, **k: getattr(F, name)(*a, **k),
        lambda T, *a, **k: getattr(T.nn.functional, name)(*a, **k),
    )


def _distinct(shape):
    """Inputs without ties (max pooling is a kink where two window values are equal)."""

    def make(rng):
        n = int(np.prod(shape))
        return [rng.permutation(n).reshape(shape) / n * 4.0 - 2.0]

    return make


def _distinct_off0(shape):
    """Distinct inputs of both signs, none within 0.05 of ReLU's kink at 0."""

    def make(rng):
        (x,) = _distinct(shape)(rng)
        return [x + np.where(x >= 0, 0.05, -0.05)]

    return make


# --------------------------------------------------------------------- torch references (RNN)


def _t_sig(T, x):
    return T.sigmoid(x)


def _t_lstm(T, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse=False):
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        g = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = g.chunk(4, dim=-1)
        c = _t_sig(T, f) * c + _t_sig(T, i) * T.tanh(gg)
        h = _t_sig(T, o) * T.tanh(c)
        outs[t] = h
    return T.stack(outs), h, c


def _t_gru(T, x, h, w_ih, w_hh, b_ih, b_hh, reverse=False):
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        gi = x[t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        ir, iz, inn = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = _t_sig(T, ir + hr)
        z = _t_sig(T, iz + hz)
        n = T.tanh(inn + r * hn)
        h = (1 - z) * n + z * h
        outs[t] = h
    return T.stack(outs), h


def _t_rnn(T, x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", reverse=False):
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    act = T.tanh if nonlinearity == "tanh" else T.relu
    for t in steps:
        h = act(x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outs[t] = h
    return T.stack(outs), h


def _t_attn_weights(T, q, k, v, mask, scale=1.0):
    p = T.softmax(q @ k.transpose(-1, -2) * scale + mask, dim=-1)
    return p @ v, p


_T, _B, _I, _H = 3, 2, 3, 2

SPECS = [
    OpSpec(
        "conv2d",
        *_f("conv2d"),
        [
            Sample(((2, 3, 5, 4), (4, 3, 3, 2), (4,)), name="basic"),
            Sample(
                ((1, 4, 6, 5), (4, 2, 2, 3), (4,)),
                {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1), "groups": 2},
                name="strided-grouped",
            ),
            Sample(
                ((1, 2, 4, 5), (3, 2, 3, 3)), {"padding": "same", "dilation": (1, 2)}, name="same"
            ),
        ],
        kind="reduction",
    ),
    OpSpec(
        "conv1d",
        *_f("conv1d"),
        [
            Sample(((2, 3, 7), (4, 3, 3), (4,)), name="basic"),
            Sample(
                ((1, 4, 9), (2, 2, 2)),
                {"stride": 2, "padding": 1, "dilation": 2, "groups": 2},
                name="strided-grouped",
            ),
        ],
        kind="reduction",
    ),
    OpSpec(
        "conv_transpose2d",
        *_f("conv_transpose2d"),
        [
            Sample(((2, 3, 3, 4), (3, 2, 3, 2), (2,)), name="basic"),
            Sample(
                ((1, 4, 3, 3), (4, 1, 2, 3), (2,)),
                {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": (1, 2)},
                name="strided",
            ),
        ],
        kind="reduction",
    ),
    OpSpec(
        "pad_nd",
        lambda x, **k: F.pad(x, **k),
        lambda T, x, **k: T.nn.functional.pad(x, **k),
        [
            Sample(((2, 3, 4),), {"pad": (2, 1), "mode": "reflect"}, name="reflect1d"),
            Sample(((1, 2, 3, 4),), {"pad": (1, 2, 2, 0), "mode": "replicate"}, name="replicate"),
            Sample(((1, 2, 3, 4),), {"pad": (3, 1, 1, 2), "mode": "circular"}, name="circular"),
        ],
    ),
    OpSpec(
        "max_pool2d",
        lambda x, **k: F.max_pool2d(x, return_indices=True, **k),
        lambda T, x, **k: T.nn.functional.max_pool2d(x, return_indices=True, **k),
        [
            Sample(make=_distinct((2, 3, 6, 5)), kwargs={"kernel_size": 2}, name="k2"),
            Sample(
                make=_distinct((1, 2, 7, 7)),
                kwargs={
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "dilation": 2,
                    "ceil_mode": True,
                },
                name="dilated-ceil",
            ),
        ],
        float16=False,
    ),
    OpSpec(
        "relu_max_pool2d",
        lambda x, **k: P.relu_max_pool2d(x, **k),
        lambda T, x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False: (
            T.nn.functional.max_pool2d(T.relu(x), kernel, stride, padding, dilation, ceil_mode)
        ),
        [
            Sample(make=_distinct_off0((2, 3, 6, 5)), kwargs={"kernel": (2, 2), "stride": (2, 2)}),
            Sample(
                make=_distinct_off0((1, 2, 7, 7)),
                kwargs={
                    "kernel": (3, 3),
                    "stride": (2, 2),
                    "padding": (1, 1),
                    "dilation": (2, 2),
                    "ceil_mode": True,
                },
                name="dilated-ceil",
            ),
        ],
        float16=False,
    ),
    OpSpec(
        "avg_pool2d",
        *_f("avg_pool2d"),
        [
            Sample(((2, 3, 6, 5),), {"kernel_size": 2}, name="k2"),
            Sample(
                ((1, 2, 7, 6),),
                {
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "ceil_mode": True,
                    "count_include_pad": False,
                },
                name="pad-ceil",
            ),
            Sample(((1, 2, 5, 5),), {"kernel_size": 2, "divisor_override": 3}, name="divisor"),
        ],
        kind="reduction",
    ),
    OpSpec(
        "adaptive_avg_pool2d",
        *_f("adaptive_avg_pool2d"),
        [
            Sample(((2, 3, 7, 5),), {"output_size": (3, 2)}, name="3x2"),
            Sample(((2, 3, 4, 4),), {"output_size": 1}, name="global"),
        ],
        kind="reduction",
    ),
    OpSpec(
        "adaptive_max_pool2d",
        lambda x, **k: F.adaptive_max_pool2d(x, return_indices=True, **k),
        lambda T, x, **k: T.nn.functional.adaptive_max_pool2d(x, return_indices=True, **k),
        [Sample(make=_distinct((2, 2, 7, 5)), kwargs={"output_size": (3, 2)}, name="3x2")],
        float16=False,
    ),
    OpSpec(
        "scaled_dot_product_attention",
        *_f("scaled_dot_product_attention"),
        [
            Sample(((2, 3, 4), (2, 5, 4), (2, 5, 3)), name="plain"),
            Sample(((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3), (3, 5)), name="float-mask"),
            Sample(
                ((1, 4, 4), (1, 4, 4), (1, 4, 2)), {"is_causal": True, "scale": 0.3}, name="causal"
            ),
        ],
        kind="reduction",
    ),
    OpSpec(
        "attention_with_weights",
        lambda q, k, v, m, **kw: A.attention_with_weights(q, k, v, m, **kw),
        _t_attn_weights,
        [Sample(((2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5)), {"scale": 0.5})],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "lstm_layer",
        lambda *a, **k: R.lstm_layer(*a, **k),
        _t_lstm,
        [
            Sample(
                (
                    (_T, _B, _I),
                    (_B, _H),
                    (_B, _H),
                    (4 * _H, _I),
                    (4 * _H, _H),
                    (4 * _H,),
                    (4 * _H,),
                ),
                name="forward",
            ),
            Sample(
                (
                    (_T, _B, _I),
                    (_B, _H),
                    (_B, _H),
                    (4 * _H, _I),
                    (4 * _H, _H),
                    (4 * _H,),
                    (4 * _H,),
                ),
                {"reverse": True},
                name="reverse",
            ),
        ],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "gru_layer",
        lambda *a, **k: R.gru_layer(*a, **k),
        _t_gru,
        [
            Sample(
                ((_T, _B, _I), (_B, _H), (3 * _H, _I), (3 * _H, _H), (3 * _H,), (3 * _H,)),
                name="forward",
            ),
            Sample(
                ((_T, _B, _I), (_B, _H), (3 * _H, _I), (3 * _H, _H), (3 * _H,), (3 * _H,)),
                {"reverse": True},
                name="reverse",
            ),
        ],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "rnn_layer",
        lambda *a, **k: R.rnn_layer(*a, **k),
        _t_rnn,
        [
            Sample(((_T, _B, _I), (_B, _H), (_H, _I), (_H, _H), (_H,), (_H,)), name="tanh"),
            Sample(
                ((_T, _B, _I), (_B, _H), (_H, _I), (_H, _H), (_H,), (_H,)),
                {"nonlinearity": "relu", "reverse": True},
                name="relu-reverse",
            ),
        ],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "lstm_cell",
        lambda *a: R.lstm_cell(*a),
        lambda T, x, h, c, *w: _t_lstm(T, x[None], h, c, *w)[1:],
        [Sample(((_B, _I), (_B, _H), (_B, _H), (4 * _H, _I), (4 * _H, _H), (4 * _H,), (4 * _H,)))],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "gru_cell",
        lambda *a: R.gru_cell(*a),
        lambda T, x, h, *w: (_t_gru(T, x[None], h, *w)[1],),
        [Sample(((_B, _I), (_B, _H), (3 * _H, _I), (3 * _H, _H), (3 * _H,), (3 * _H,)))],
        kind="reduction",
        float16=False,
    ),
    OpSpec(
        "rnn_cell",
        lambda *a: R.rnn_cell(*a),
        lambda T, x, h, *w: (_t_rnn(T, x[None], h, *w)[1],),
        [Sample(((_B, _I), (_B, _H), (_H, _I), (_H, _H), (_H,), (_H,)))],
        kind="reduction",
        float16=False,
    ),
]
