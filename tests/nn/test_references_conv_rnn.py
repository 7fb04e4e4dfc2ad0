"""Fused conv / pool / pad / RNN / attention VJPs == autodiff of their primitive decompositions
(tests/references_conv_rnn.py), in float64 with a tight tolerance (no torch needed)."""

from __future__ import annotations

import numpy as np
import pytest
import references_conv_rnn as ref

import chainrule as cr
from chainrule.ops.nn import attention as A
from chainrule.ops.nn import conv as C
from chainrule.ops.nn import pooling as P
from chainrule.ops.nn import rnn as R


def _compare(fused, reference, shapes, seed=0, n_out=None, make=None):
    """Same random inputs and output cotangents; values and every input gradient agree."""
    rng = np.random.default_rng(seed)
    arrays = make(rng) if make else [rng.standard_normal(s) for s in shapes]
    outs = []
    for fn in (fused, reference):
        ts = [cr.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*ts)
        ys = list(y) if isinstance(y, tuple | list) else [y]
        ys = ys[:n_out] if n_out else ys
        us = [np.random.default_rng(1 + k).standard_normal(o.shape) for k, o in enumerate(ys)]
        grads = cr.autograd.grad(ys, ts, [cr.tensor(u) for u in us], allow_unused=True)
        outs.append(
            ([o.detach().numpy() for o in ys], [g.numpy() if g is not None else 0.0 for g in grads])
        )
    (yf, gf), (yr, gr) = outs
    for a, b in zip(yf, yr):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)
    for i, (a, b) in enumerate(zip(gf, gr)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"gradient of input {i}")


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"stride": (2, 1), "pads": (1, 2, 0, 1), "dilation": (1, 2), "groups": 2},
        {"stride": (3, 2), "pads": (2, 2, 1, 1), "dilation": (2, 1), "groups": 4},
    ],
)
def test_conv2d(kw):
    _compare(
        lambda x, w, b: C.conv2d(x, w, b, **kw),
        lambda x, w, b: ref.conv2d_ref(x, w, b, **kw),
        [(2, 4, 7, 6), (4, 4 // kw.get("groups", 1), 3, 2), (4,)],
    )


def test_conv1d():
    _compare(
        lambda x, w, b: C.conv1d(x, w, b, stride=2, pads=(1, 2), dilation=2, groups=2),
        lambda x, w, b: ref.conv2d_ref(
            x.unsqueeze(2), w.unsqueeze(2), b, (1, 2), (0, 0, 1, 2), (1, 2), 2
        ).squeeze(2),
        [(2, 4, 9), (6, 2, 3), (6,)],
    )


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {
            "stride": (2, 3),
            "padding": (1, 0),
            "output_padding": (1, 2),
            "groups": 2,
            "dilation": (1, 1),
        },
        {
            "stride": (2, 1),
            "padding": (2, 1),
            "output_padding": (0, 0),
            "groups": 1,
            "dilation": (2, 2),
        },
    ],
)
def test_conv_transpose2d(kw):
    _compare(
        lambda x, w, b: C.conv_transpose2d(x, w, b, **kw),
        lambda x, w, b: ref.conv_transpose2d_ref(x, w, b, **kw),
        [(2, 4, 4, 3), (4, 3, 3, 2), (3 * kw.get("groups", 1),)],
    )


def _distinct(shape):
    def make(rng):
        return [rng.permutation(int(np.prod(shape))).reshape(shape) / 10.0]

    return make


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel": (2, 2), "stride": (2, 2)},
        {
            "kernel": (3, 2),
            "stride": (2, 1),
            "padding": (1, 1),
            "dilation": (2, 1),
            "ceil_mode": True,
        },
    ],
)
def test_max_pool2d(kw):
    _compare(
        lambda x: P.max_pool2d(x, **kw),
        lambda x: ref.max_pool2d_ref(x, **kw),
        None,
        n_out=1,
        make=_distinct((2, 3, 7, 6)),
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel": (2, 2), "stride": (2, 2)},
        {
            "kernel": (3, 3),
            "stride": (2, 2),
            "padding": (1, 1),
            "ceil_mode": True,
            "count_include_pad": False,
        },
        {"kernel": (2, 3), "stride": (1, 2), "divisor_override": 4},
    ],
)
def test_avg_pool2d(kw):
    _compare(lambda x: P.avg_pool2d(x, **kw), lambda x: ref.avg_pool2d_ref(x, **kw), [(2, 3, 7, 6)])


def test_adaptive_avg_pool2d():
    _compare(
        lambda x: P.adaptive_avg_pool2d(x, output_size=(3, 4)),
        lambda x: ref.adaptive_avg_pool2d_ref(x, (3, 4)),
        [(2, 3, 7, 6)],
    )


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_nd(mode):
    widths = ((2, 1), (1, 3))
    _compare(
        lambda x: C.pad_nd(x, widths=widths, mode=mode),
        lambda x: ref.pad_nd_ref(x, widths, mode),
        [(2, 3, 4, 5)],
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer(reverse):
    t, b, i, h = 4, 3, 5, 4
    _compare(
        lambda *a: R.lstm_layer(*a, reverse=reverse),
        lambda *a: ref.lstm_ref(*a, reverse=reverse),
        [(t, b, i), (b, h), (b, h), (4 * h, i), (4 * h, h), (4 * h,), (4 * h,)],
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_layer(reverse):
    t, b, i, h = 4, 3, 5, 4
    _compare(
        lambda *a: R.gru_layer(*a, reverse=reverse),
        lambda *a: ref.gru_ref(*a, reverse=reverse),
        [(t, b, i), (b, h), (3 * h, i), (3 * h, h), (3 * h,), (3 * h,)],
    )


@pytest.mark.parametrize("nl", ["tanh", "relu"])
def test_rnn_layer(nl):
    t, b, i, h = 4, 3, 5, 4
    _compare(
        lambda *a: R.rnn_layer(*a, nonlinearity=nl),
        lambda *a: ref.rnn_ref(*a, nonlinearity=nl),
        [(t, b, i), (b, h), (h, i), (h, h), (h,), (h,)],
    )


def test_lstm_without_bias():
    t, b, i, h = 3, 2, 3, 2
    _compare(
        lambda *a: R.lstm_layer(*a),
        lambda *a: ref.lstm_ref(*a),
        [(t, b, i), (b, h), (b, h), (4 * h, i), (4 * h, h)],
    )


def test_attention():
    _compare(
        lambda q, k, v, m: A.attention_with_weights(q, k, v, m, scale=0.4),
        lambda q, k, v, m: ref.attention_ref(q, k, v, m, scale=0.4),
        [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 2), (5, 6)],
    )
    _compare(
        lambda q, k, v: A.sdpa(q, k, v, None, scale=0.5),
        lambda q, k, v: ref.attention_ref(q, k, v, None, scale=0.5)[0],
        [(2, 5, 4), (2, 6, 4), (2, 6, 3)],
    )
