"""Layer converters: convolution, pooling, recurrent layers, norms, fused activations,
attention and losses (see ``_converters.py`` for the conventions).

Recurrent layers need ONNX's gate orders: PyTorch's LSTM rows are (i, f, g, o) and ONNX's are
(i, o, f, c); PyTorch's GRU rows are (r, z, n) and ONNX's (z, r, h), with torch's
``r ⊙ (W_hn h + b_hn)`` being ONNX's ``linear_before_reset=1``. The reorder is done with Slice
and Concat on the state_dict initialisers, so the file still holds torch's tensors by name.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from ._converters import _arr, _count, _dt, _dyn, _inputs, converter
from ._graph import GraphBuilder, Unsupported

# ---------------------------------------------------------------- convolution and pooling


def _conv_node(g: GraphBuilder, ev: Any, op_type: str, **attrs: Any) -> str:
    """A Conv/ConvTranspose node on the op's inputs (a missing bias left out), with its group."""
    names = _inputs(g, ev)
    ins = [n for n in names if n] if not names[-1] else names
    return g.node(op_type, ins, **attrs, group=int(ev.params.get("groups", 1)))


@converter("conv2d")
def _conv2d(g: GraphBuilder, ev: Any) -> str:
    p = ev.params
    pt, pb, pl, pr = p.get("pads", (0, 0, 0, 0))
    return _conv_node(
        g,
        ev,
        "Conv",
        strides=list(p.get("stride", (1, 1))),
        pads=[pt, pl, pb, pr],
        dilations=list(p.get("dilation", (1, 1))),
    )


@converter("conv1d")
def _conv1d(g: GraphBuilder, ev: Any) -> str:
    p = ev.params
    lo, hi = p.get("pads", (0, 0))
    return _conv_node(
        g,
        ev,
        "Conv",
        strides=[int(p.get("stride", 1))],
        pads=[lo, hi],
        dilations=[int(p.get("dilation", 1))],
    )


@converter("conv_transpose2d")
def _conv_transpose2d(g: GraphBuilder, ev: Any) -> str:
    p = ev.params
    ph, pw = p.get("padding", (0, 0))
    return _conv_node(
        g,
        ev,
        "ConvTranspose",
        strides=list(p.get("stride", (1, 1))),
        pads=[ph, pw, ph, pw],
        output_padding=list(p.get("output_padding", (0, 0))),
        dilations=list(p.get("dilation", (1, 1))),
    )


@converter("max_pool2d")
def _max_pool2d(g: GraphBuilder, ev: Any) -> list[str]:
    (x,) = _inputs(g, ev)
    p = ev.params
    ph, pw = p.get("padding", (0, 0))
    y, idx = g.node(
        "MaxPool",
        [x],
        n_out=2,
        kernel_shape=list(p.get("kernel", (2, 2))),
        strides=list(p.get("stride", (2, 2))),
        pads=[ph, pw, ph, pw],
        dilations=list(p.get("dilation", (1, 1))),
        ceil_mode=int(bool(p.get("ceil_mode", False))),
    )
    h, w = _arr(ev.inputs[0]).shape[-2:]
    # ONNX counts the index over the whole NCHW tensor; torch counts within each H·W plane.
    i = g.node("Mod", [idx, g.value(np.asarray(h * w, np.int64))], fmod=0)
    # the op has no indices output unless they were asked for (with_indices=False)
    return [y, i] if p.get("with_indices", True) else [y]


@converter("avg_pool2d")
def _avg_pool2d(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    p = ev.params
    ph, pw = p.get("padding", (0, 0))
    kernel = list(p.get("kernel", (2, 2)))
    div = p.get("divisor_override")
    y = g.node(
        "AveragePool",
        [x],
        kernel_shape=kernel,
        strides=list(p.get("stride", (2, 2))),
        pads=[ph, pw, ph, pw],
        ceil_mode=int(bool(p.get("ceil_mode", False))),
        count_include_pad=1 if div else int(bool(p.get("count_include_pad", True))),
    )
    if div:
        if p.get("ceil_mode"):
            raise Unsupported("avg_pool2d with divisor_override and ceil_mode")
        scale = kernel[0] * kernel[1] / float(div)
        y = g.node("Mul", [y, g.value(np.asarray(scale, _dt(ev)))])
    return y


def _adaptive_matrix(n: int, out: int, dtype: Any) -> np.ndarray:
    from ..ops.nn.pooling import _adaptive_matrix as m

    return m(n, out, dtype)


@converter("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    oh, ow = ev.params.get("output_size", (1, 1))
    if (oh, ow) == (1, 1):
        return g.reduce("ReduceMean", x, (-2, -1), True)
    h, w = src.shape[-2:]
    ah = g.const(_adaptive_matrix(h, oh, src.dtype))
    awt = g.const(_adaptive_matrix(w, ow, src.dtype).T)
    return g.node("MatMul", [g.node("MatMul", [ah, x]), awt])


@converter("adaptive_max_pool2d")
def _adaptive_max_pool2d(g: GraphBuilder, ev: Any) -> list[str]:
    (x,) = _inputs(g, ev)
    h, w = _arr(ev.inputs[0]).shape[-2:]
    oh, ow = ev.params.get("output_size", (1, 1))
    if h % oh or w % ow:
        return _adaptive_max_cells(g, x, h, w, oh, ow)
    kh, kw = h // oh, w // ow
    y, idx = g.node("MaxPool", [x], n_out=2, kernel_shape=[kh, kw], strides=[kh, kw])
    i = g.node("Mod", [idx, g.value(np.asarray(h * w, np.int64))], fmod=0)
    return [y, i]


def _adaptive_max_cells(g: GraphBuilder, x: str, h: int, w: int, oh: int, ow: int) -> list[str]:
    """Uneven adaptive max pooling: one ReduceMax / ArgMax per output cell (torch's cells)."""
    rows_v, rows_i = [], []
    for i in range(oh):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        vals, idxs = [], []
        for j in range(ow):
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            cell = g.slice(x, [hs, ws], [he, we], [2, 3])
            flat = g.node("Reshape", [cell, g.ints([0, 0, -1])])
            vals.append(g.unsqueeze(g.reduce("ReduceMax", flat, (2,), False), [2, 3]))
            a = g.node("ArgMax", [flat], axis=2, keepdims=0)
            cw = g.value(np.asarray(we - ws, np.int64))
            row = g.node("Add", [g.node("Div", [a, cw]), g.value(np.asarray(hs, np.int64))])
            col = g.node("Add", [g.node("Mod", [a, cw]), g.value(np.asarray(ws, np.int64))])
            flat_i = g.node("Add", [g.node("Mul", [row, g.value(np.asarray(w, np.int64))]), col])
            idxs.append(g.unsqueeze(flat_i, [2, 3]))
        rows_v.append(g.node("Concat", vals, axis=3))
        rows_i.append(g.node("Concat", idxs, axis=3))
    return [g.node("Concat", rows_v, axis=2), g.node("Concat", rows_i, axis=2)]


# ---------------------------------------------------------------- recurrent layers


def _blocks(g: GraphBuilder, w: str, n: int, order: list[int]) -> str:
    """Rows of ``w`` (``len(order)`` gate blocks of ``n`` rows) put in ONNX's gate order."""
    if order == list(range(len(order))):
        return w
    parts = [g.slice(w, [k * n], [(k + 1) * n], [0]) for k in order]
    return g.node("Concat", parts, axis=0)


def _recurrent(g: GraphBuilder, ev: Any, kind: str) -> list[str]:
    """LSTM / GRU / RNN layer (one direction) as the ONNX node of the same name."""
    names = _inputs(g, ev)
    p = ev.params
    n_states = 2 if kind == "LSTM" else 1
    x, states = names[0], names[1 : 1 + n_states]
    w_ih, w_hh, b_ih, b_hh = names[1 + n_states : 5 + n_states]
    if kind == "LSTM" and len(names) > 7 and names[7]:
        raise Unsupported("LSTM with proj_size > 0 (ONNX LSTM has no projection)")
    hsz = _arr(ev.inputs[1]).shape[-1]
    order = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}[kind]  # torch → ONNX gates
    w = g.unsqueeze(_blocks(g, w_ih, hsz, order), [0])
    r = g.unsqueeze(_blocks(g, w_hh, hsz, order), [0])
    ins = [x, w, r]
    if b_ih:
        b = g.node("Concat", [_blocks(g, b_ih, hsz, order), _blocks(g, b_hh, hsz, order)], axis=0)
        ins.append(g.unsqueeze(b, [0]))
    else:
        ins.append("")
    ins.append("")  # sequence_lens
    for s, t in zip(states, ev.inputs[1 : 1 + n_states]):
        # why: a zero initial state that does not come from the graph's inputs is ONNX's
        # default; leaving it out keeps the batch dynamic
        constant_zero = s not in g.live and not np.any(_arr(t))
        ins.append("" if constant_zero else g.unsqueeze(s, [0]))
    while ins and ins[-1] == "":
        ins.pop()
    attrs: dict[str, Any] = {
        "hidden_size": int(hsz),
        "direction": "reverse" if p.get("reverse") else "forward",
    }
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if kind == "RNN":
        attrs["activations"] = ["Relu" if p.get("nonlinearity") == "relu" else "Tanh"]
    outs = g.node(kind, ins, n_out=1 + n_states, **attrs)
    xd = _dyn(g, x) or (None, None, None)
    seq = g.squeeze(outs[0], [1])
    g.dyn[seq] = (xd[0], xd[1], None)
    res = [seq]
    for o in outs[1:]:
        s = g.squeeze(o, [0])
        g.dyn[s] = (xd[1], None)
        res.append(s)
    return res


# the recurrent ops and their ONNX node (LSTM, GRU, RNN), for the layer and the cell converters
_RECURRENT_KIND = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


@converter("lstm_layer", "gru_layer", "rnn_layer")
def _recurrent_layer(g: GraphBuilder, ev: Any) -> list[str]:
    return _recurrent(g, ev, _RECURRENT_KIND[ev.opdef.name.split("_")[0]])


def _cell(g: GraphBuilder, ev: Any, kind: str) -> list[str]:
    """A single step: the sequence op on a length-1 sequence."""
    names = _inputs(g, ev)
    x = g.unsqueeze(names[0], [0])
    g.dyn[x] = (None, *(_dyn(g, names[0]) or (None, None)))

    x_arr = _arr(ev.inputs[0])[None]
    step = SimpleNamespace(
        opdef=ev.opdef, params=ev.params, inputs=(x_arr, *ev.inputs[1:]), outputs=ev.outputs
    )
    g.bind(x_arr, x, g.dyn[x])
    outs = _recurrent(g, step, kind)
    return outs[1:]


@converter("lstm_cell", "gru_cell", "rnn_cell")
def _recurrent_cell(g: GraphBuilder, ev: Any) -> list[str]:
    return _cell(g, ev, _RECURRENT_KIND[ev.opdef.name.split("_")[0]])


# ---------------------------------------------------------------- layers


def _c(g: GraphBuilder, ev: Any, v: float) -> str:
    """A scalar constant in the op's output dtype."""
    return g.value(np.asarray(v, _dt(ev)))


@converter("linear")
def _linear(g: GraphBuilder, ev: Any) -> str:
    x, w, b = (_inputs(g, ev) + [""])[:3]
    src = _arr(ev.inputs[0])
    if src.ndim == 2:
        return g.node("Gemm", [x, w, b] if b else [x, w], transB=1)
    y = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])
    return g.node("Add", [y, b]) if b else y


@converter("bilinear")
def _bilinear(g: GraphBuilder, ev: Any) -> str:
    x1, x2, w, b = (_inputs(g, ev) + [""])[:4]
    y = g.node("Einsum", [x1, w, x2], equation="...i,oij,...j->...o")
    return g.node("Add", [y, b]) if b else y


@converter("dropout")
def _dropout(g: GraphBuilder, ev: Any) -> str:
    # Exported graphs are inference graphs: dropout is removed (its output is its input).
    (x,) = _inputs(g, ev)
    return x


@converter("embedding")
def _embedding(g: GraphBuilder, ev: Any) -> str:
    (w,) = _inputs(g, ev)
    idx = ev.params["indices"]
    i = g.value(idx)
    i = g.cast(i, np.asarray(_arr(idx)).dtype, np.int64)
    y = g.node("Gather", [w, i], axis=0)
    g.dyn[y] = (*(_dyn(g, i) or (None,) * np.ndim(_arr(idx))), None)
    return y


def _standardise(g: GraphBuilder, ev: Any, d: str, var: str, eps: float) -> str:
    """(x − mean) / √(var + eps), given the centred ``d``."""
    return g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, _c(g, ev, eps)])])])


def _channel_affine(g: GraphBuilder, y: str, w: str, b: str, shape: list[int]) -> str:
    """y · γ + β with per-channel γ, β reshaped to ``shape`` (either may be absent: "")."""
    if w:
        y = g.node("Mul", [y, g.node("Reshape", [w, g.ints(shape)])])
    if b:
        y = g.node("Add", [y, g.node("Reshape", [b, g.ints(shape)])])
    return y


@converter("batch_norm")
def _batch_norm(g: GraphBuilder, ev: Any) -> str:
    x, w, b = (_inputs(g, ev) + ["", ""])[:3]
    src = _arr(ev.inputs[0])
    p = ev.params
    c = src.shape[1]
    dt = _dt(ev)
    eps = float(p.get("eps", 1e-5))
    rm, rv = p.get("running_mean"), p.get("running_var")
    if not p.get("training", False) and rm is not None and rv is not None and src.ndim > 2:
        w = w or g.const(np.ones(c, dt))
        b = b or g.const(np.zeros(c, dt))
        mean, var = g.value(rm, dt), g.value(rv, dt)
        return g.node("BatchNormalization", [x, w, b, mean, var], epsilon=eps)
    bshape = [1, c] + [1] * (src.ndim - 2)
    axes = [0, *range(2, src.ndim)]
    if p.get("training", False) or rm is None:
        mean = g.reduce("ReduceMean", x, axes, True)
        d = g.node("Sub", [x, mean])
        var = g.reduce("ReduceMean", g.node("Mul", [d, d]), axes, True)
    else:
        mean = g.node("Reshape", [g.value(rm, dt), g.ints(bshape)])
        d = g.node("Sub", [x, mean])
        var = g.node("Reshape", [g.value(rv, dt), g.ints(bshape)])
    return _channel_affine(g, _standardise(g, ev, d, var, eps), w, b, bshape)


@converter("layer_norm")
def _layer_norm(g: GraphBuilder, ev: Any) -> str:
    x, w, b = (_inputs(g, ev) + ["", ""])[:3]
    src = _arr(ev.inputs[0])
    p = ev.params
    nd = int(p.get("normalized_ndim", 1))
    if not w:
        w = g.const(np.ones(src.shape[src.ndim - nd :], _dt(ev)))
    ins = [x, w, b] if b else [x, w]
    return g.node("LayerNormalization", ins, axis=-nd, epsilon=float(p.get("eps", 1e-5)))


@converter("group_norm")
def _group_norm(g: GraphBuilder, ev: Any) -> str:
    x, w, b = (_inputs(g, ev) + ["", ""])[:3]
    src = _arr(ev.inputs[0])
    p = ev.params
    c = src.shape[1]
    groups = int(p.get("num_groups", 1))
    eps = float(p.get("eps", 1e-5))
    # (N, C, *) → (N, G, C/G·*): normalise the last axis, then back and scale per channel.
    xg = g.node("Reshape", [x, g.ints([0, groups, -1])])
    mean = g.reduce("ReduceMean", xg, (2,), True)
    d = g.node("Sub", [xg, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [d, d]), (2,), True)
    y = g.node("Reshape", [_standardise(g, ev, d, var, eps), g.node("Shape", [x])])
    return _channel_affine(g, y, w, b, [1, c] + [1] * (src.ndim - 2))


@converter("rms_norm")
def _rms_norm(g: GraphBuilder, ev: Any) -> str:
    x, w = (_inputs(g, ev) + [""])[:2]
    src = _arr(ev.inputs[0])
    p = ev.params
    nd = int(p.get("normalized_ndim", 1))
    eps = p.get("eps")
    eps = float(np.finfo(src.dtype).eps) if eps is None else float(eps)
    ms = g.reduce("ReduceMean", g.node("Mul", [x, x]), list(range(-nd, 0)), True)
    y = g.node("Div", [x, g.node("Sqrt", [g.node("Add", [ms, _c(g, ev, eps)])])])
    return g.node("Mul", [y, w]) if w else y


# ---------------------------------------------------------------- activations (fused)


@converter("gelu")
def _gelu(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    approx = ev.params.get("approximate", "none")
    if g.opset >= 20:
        return g.node("Gelu", [x], approximate=approx)
    half = g.node("Mul", [x, _c(g, ev, 0.5)])
    if approx == "tanh":
        x3 = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [x3, _c(g, ev, 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, _c(g, ev, float(np.sqrt(2.0 / np.pi)))])])
    else:
        t = g.node("Erf", [g.node("Mul", [x, _c(g, ev, float(1.0 / np.sqrt(2.0)))])])
    return g.node("Mul", [half, g.node("Add", [t, _c(g, ev, 1.0)])])


@converter("silu")
def _silu(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _stable_softplus(g: GraphBuilder, ev: Any, x: str) -> str:
    """max(x, 0) + log(1 + e^{−|x|}): never overflows (as chainrule computes it)."""
    e = g.node("Exp", [g.node("Neg", [g.node("Abs", [x])])])
    lg = g.node("Log", [g.node("Add", [e, _c(g, ev, 1.0)])])
    return g.node("Add", [g.node("Relu", [x]), lg])


@converter("mish")
def _mish(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Mul", [x, g.node("Tanh", [_stable_softplus(g, ev, x)])])


@converter("elu")
def _elu(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    p = ev.params
    alpha, scale, s = (float(p.get(k, 1.0)) for k in ("alpha", "scale", "input_scale"))
    if scale == 1.0 and s == 1.0:
        return g.node("Elu", [x], alpha=alpha)
    if s == 1.0:
        return g.node("Selu", [x], alpha=alpha, gamma=scale)
    if scale == 1.0 and abs(s * alpha - 1.0) < 1e-12:
        return g.node("Celu", [x], alpha=alpha)
    neg = g.node(
        "Mul",
        [
            g.node("Exp", [g.node("Mul", [g.node("Min", [x, _c(g, ev, 0.0)]), _c(g, ev, s)])]),
            _c(g, ev, 1.0),
        ],
    )
    neg = g.node("Mul", [g.node("Sub", [neg, _c(g, ev, 1.0)]), _c(g, ev, alpha * scale)])
    cond = g.node("LessOrEqual", [x, _c(g, ev, 0.0)])
    return g.node("Where", [cond, neg, g.node("Mul", [x, _c(g, ev, scale)])])


@converter("softplus")
def _softplus(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    beta = float(ev.params.get("beta", 1.0))
    th = float(ev.params.get("threshold", 20.0))
    bx = g.node("Mul", [x, _c(g, ev, beta)]) if beta != 1.0 else x
    sp = _stable_softplus(g, ev, bx)
    if beta != 1.0:
        sp = g.node("Div", [sp, _c(g, ev, beta)])
    return g.node("Where", [g.node("Greater", [bx, _c(g, ev, th)]), x, sp])


@converter("leaky_relu")
def _leaky_relu(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("LeakyRelu", [x], alpha=float(ev.params.get("negative_slope", 0.01)))


@converter("hardtanh")
def _hardtanh(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    lo, hi = float(ev.params.get("min_val", -1.0)), float(ev.params.get("max_val", 1.0))
    return g.node("Clip", [x, _c(g, ev, lo), _c(g, ev, hi)])


@converter("hardsigmoid")
def _hardsigmoid(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)


@converter("logsigmoid")
def _logsigmoid(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Neg", [_stable_softplus(g, ev, g.node("Neg", [x]))])


@converter("threshold")
def _threshold(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    th, v = float(ev.params.get("threshold", 0.0)), float(ev.params.get("value", 0.0))
    return g.node("Where", [g.node("Greater", [x, _c(g, ev, th)]), x, _c(g, ev, v)])


# ---------------------------------------------------------------- attention


def _attention(g: GraphBuilder, ev: Any, safe: bool) -> tuple[str, str]:
    q, k, v, mask = (_inputs(g, ev) + [""])[:4]
    nd = _arr(ev.inputs[0]).ndim
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    s = g.node("MatMul", [q, g.node("Transpose", [k], perm=perm)])
    s = g.node("Mul", [s, _c(g, ev, float(ev.params.get("scale", 1.0)))])
    if mask:
        m = _arr(ev.inputs[3])
        if m.dtype == np.bool_:
            s = g.node("Where", [mask, s, _c(g, ev, -np.inf)])
        else:
            s = g.node("Add", [s, g.cast(mask, m.dtype, _dt(ev))])
    p = g.node("Softmax", [s], axis=-1)
    if safe and mask:
        # A row with every key masked is 0 (torch's sdpa), not softmax's NaN.
        p = g.node("Where", [g.node("IsNaN", [p]), _c(g, ev, 0.0), p])
    return g.node("MatMul", [p, v]), p


@converter("scaled_dot_product_attention")
def _sdpa(g: GraphBuilder, ev: Any) -> str:
    return _attention(g, ev, True)[0]


@converter("attention_with_weights")
def _attention_with_weights(g: GraphBuilder, ev: Any) -> list[str]:
    return list(_attention(g, ev, False))


# ---------------------------------------------------------------- losses


def _reduce_loss(g: GraphBuilder, ev: Any, loss: str, reduction: str, denom: Any = None) -> str:
    if reduction == "none":
        return loss
    total = g.reduce("ReduceSum", loss, None, False)
    if reduction == "sum":
        return total
    if denom is not None:
        return g.node("Div", [total, denom])
    return g.reduce("ReduceMean", loss, None, False)


@converter("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
def _regression_loss(g: GraphBuilder, ev: Any) -> str:
    x, t = _inputs(g, ev)
    t = g.cast(t, _arr(ev.inputs[1]).dtype, _dt(ev))
    d = g.node("Sub", [x, t])
    ad = g.node("Abs", [d])
    name = ev.opdef.name
    if name == "mse_loss":
        loss = g.node("Mul", [d, d])
    elif name == "l1_loss":
        loss = ad
    else:
        key = "beta" if name == "smooth_l1_loss" else "delta"
        b = float(ev.params.get(key, 1.0))
        if name == "smooth_l1_loss" and b == 0.0:
            loss = ad
        else:
            sq = g.node(
                "Mul", [g.node("Mul", [d, d]), _c(g, ev, 0.5 / b if key == "beta" else 0.5)]
            )
            lin = g.node("Sub", [ad, _c(g, ev, 0.5 * b)])
            if key == "delta":
                lin = g.node("Mul", [lin, _c(g, ev, b)])
            op_type = "Less" if key == "beta" else "LessOrEqual"
            loss = g.node("Where", [g.node(op_type, [ad, _c(g, ev, b)]), sq, lin])
    return _reduce_loss(g, ev, loss, ev.params.get("reduction", "mean"))


@converter("binary_cross_entropy")
def _bce(g: GraphBuilder, ev: Any) -> str:
    x, t = _inputs(g, ev)[:2]
    lo = _c(g, ev, -100.0)
    lx = g.node("Max", [g.node("Log", [x]), lo])
    l1x = g.node("Max", [g.node("Log", [g.node("Sub", [_c(g, ev, 1.0), x])]), lo])
    loss = g.node(
        "Add", [g.node("Mul", [t, lx]), g.node("Mul", [g.node("Sub", [_c(g, ev, 1.0), t]), l1x])]
    )
    loss = g.node("Neg", [loss])
    w = ev.params.get("weight")
    if w is not None:
        loss = g.node("Mul", [loss, g.value(w, _dt(ev))])
    return _reduce_loss(g, ev, loss, ev.params.get("reduction", "mean"))


@converter("binary_cross_entropy_with_logits")
def _bce_logits(g: GraphBuilder, ev: Any) -> str:
    x, t = _inputs(g, ev)[:2]
    sp = _stable_softplus(g, ev, g.node("Neg", [x]))
    pw = ev.params.get("pos_weight")
    if pw is not None:
        lw = g.node(
            "Add",
            [
                _c(g, ev, 1.0),
                g.node("Mul", [g.node("Sub", [g.value(pw, _dt(ev)), _c(g, ev, 1.0)]), t]),
            ],
        )
        sp = g.node("Mul", [lw, sp])
    loss = g.node("Add", [g.node("Mul", [g.node("Sub", [_c(g, ev, 1.0), t]), x]), sp])
    w = ev.params.get("weight")
    if w is not None:
        loss = g.node("Mul", [loss, g.value(w, _dt(ev))])
    return _reduce_loss(g, ev, loss, ev.params.get("reduction", "mean"))


@converter("kl_div")
def _kl_div(g: GraphBuilder, ev: Any) -> str:
    x, t = _inputs(g, ev)
    if ev.params.get("log_target"):
        loss = g.node("Mul", [g.node("Exp", [t]), g.node("Sub", [t, x])])
    else:
        pos = g.node("Greater", [t, _c(g, ev, 0.0)])
        safe = g.node("Where", [pos, t, _c(g, ev, 1.0)])
        tlogt = g.node("Where", [pos, g.node("Mul", [t, g.node("Log", [safe])]), _c(g, ev, 0.0)])
        loss = g.node("Sub", [tlogt, g.node("Mul", [t, x])])
    red = ev.params.get("reduction", "mean")
    if red == "batchmean":
        src = _arr(ev.inputs[0])
        n = _count(g, x, src.shape, (0,), _dt(ev)) if src.ndim else _c(g, ev, 1.0)
        return _reduce_loss(g, ev, loss, "mean", n)
    return _reduce_loss(g, ev, loss, red)


def _class_loss(g: GraphBuilder, ev: Any, logp: str) -> str:
    """NLL of log-probabilities ``logp`` (N, C, …) at class indices, with weights and ignore."""
    p = ev.params
    dt = _dt(ev)
    tgt = p["target"]
    t = g.cast(g.value(tgt), np.asarray(_arr(tgt)).dtype, np.int64)
    ignore = g.value(np.asarray(int(p.get("ignore_index", -100)), np.int64))
    keep = g.node("Not", [g.node("Equal", [t, ignore])])
    t_safe = g.node("Where", [keep, t, g.value(np.asarray(0, np.int64))])
    src = _arr(ev.inputs[0])
    if src.ndim == 1:
        picked = g.node("Gather", [logp, t_safe], axis=0)
    else:
        idx = g.unsqueeze(t_safe, [1])
        picked = g.squeeze(g.node("GatherElements", [logp, idx], axis=1), [1])
    w = p.get("weight")
    keepf = g.cast(keep, np.bool_, dt)
    w_t = (
        g.node("Mul", [g.node("Gather", [g.value(w, dt), t_safe], axis=0), keepf])
        if (w is not None)
        else keepf
    )
    loss = g.node("Neg", [g.node("Mul", [w_t, picked])])
    eps = float(p.get("label_smoothing", 0.0))
    if eps > 0.0:
        n_cls = src.shape[1] if src.ndim > 1 else src.shape[0]
        wl = logp
        if w is not None:
            shape = [-1] + [1] * (src.ndim - 2) if src.ndim > 1 else [-1]
            wl = g.node("Mul", [logp, g.node("Reshape", [g.value(w, dt), g.ints(shape)])])
        smooth = g.node("Neg", [g.reduce("ReduceSum", wl, (1 if src.ndim > 1 else 0,), False)])
        smooth = g.node("Mul", [smooth, keepf])
        loss = g.node(
            "Add",
            [
                g.node("Mul", [loss, _c(g, ev, 1.0 - eps)]),
                g.node("Mul", [smooth, _c(g, ev, eps / n_cls)]),
            ],
        )
    red = p.get("reduction", "mean")
    denom = g.reduce("ReduceSum", w_t, None, False) if red == "mean" else None
    return _reduce_loss(g, ev, loss, red, denom)


@converter("cross_entropy")
def _cross_entropy(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    axis = 1 if _arr(ev.inputs[0]).ndim > 1 else 0
    return _class_loss(g, ev, g.node("LogSoftmax", [x], axis=axis))


@converter("nll_loss")
def _nll_loss(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return _class_loss(g, ev, x)


@converter("cross_entropy_probs")
def _cross_entropy_probs(g: GraphBuilder, ev: Any) -> str:
    x, q = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    axis = 1 if src.ndim > 1 else 0
    n_cls = src.shape[axis]
    logp = g.node("LogSoftmax", [x], axis=axis)
    eps = float(ev.params.get("label_smoothing", 0.0))
    if eps > 0.0:
        q = g.node("Add", [g.node("Mul", [q, _c(g, ev, 1.0 - eps)]), _c(g, ev, eps / n_cls)])
    w = ev.params.get("weight")
    if w is not None:
        shape = [-1] + [1] * (src.ndim - 2) if src.ndim > 1 else [-1]
        q = g.node("Mul", [q, g.node("Reshape", [g.value(w, _dt(ev)), g.ints(shape)])])
    loss = g.node("Neg", [g.reduce("ReduceSum", g.node("Mul", [q, logp]), (axis,), False)])
    return _reduce_loss(g, ev, loss, ev.params.get("reduction", "mean"))
