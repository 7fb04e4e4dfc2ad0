"""Op name → ONNX node(s): one converter per traced op.

A converter ``fn(g, ev)`` reads the traced call ``ev`` (its inputs, its keyword ``params`` exactly
as the op received them, its outputs), appends nodes to the ``GraphBuilder`` ``g`` and returns
the name(s) of the op's output value(s). It may set ``g.dyn[name]`` (which axes are dynamic) when
the default rule (axes line up from the right, as in broadcasting) would be wrong. Ops that do not
map one-to-one (conv padding, gate orders of recurrent layers, indexing, dynamic reshapes) are
spelled out here; one-to-one ops without settings go through ``opdef.onnx`` directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .._dtype import get_default_dtype
from .._tensor import Tensor
from ..ops._registry import _promote
from ._graph import (
    INT_MAX,
    INT_MIN,
    DynamicUnsupported,
    GraphBuilder,
    Unsupported,
    onnx_dtype,
)

__all__ = ["CONVERTERS", "convert"]

CONVERTERS: dict[str, Callable[[GraphBuilder, Any], Any]] = {}


def converter(*names: str) -> Callable:
    """Register ``fn`` as the converter of the ops ``names``."""

    def deco(fn: Callable) -> Callable:
        for n in names:
            CONVERTERS[n] = fn
        return fn

    return deco


def _arr(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _out(ev: Any, k: int = 0) -> np.ndarray:
    return ev.outputs[k]._data


def _dt(ev: Any, k: int = 0) -> np.dtype:
    return _out(ev, k).dtype


def _inputs(g: GraphBuilder, ev: Any) -> list[str]:
    """Input names after the same dtype promotion the op wrapper applied (casts where needed)."""
    arrays = [_arr(x) for x in ev.inputs]
    target = None
    if ev.opdef.promote:
        target = _promote(arrays)
    names = []
    for x, a in zip(ev.inputs, arrays):
        if a is None:
            names.append("")
            continue
        if isinstance(a, np.ndarray):
            name = g.value(x)
            dt = a.dtype
            if target is not None:
                name, dt = g.cast(name, dt, target), target
            if ev.opdef.float_only and dt.kind != "f":
                name = g.cast(name, dt, get_default_dtype().np)
            names.append(name)
        else:
            dt = target
            if dt is None:
                dt = _dt(ev) if _dt(ev).kind == "f" else np.asarray(a).dtype
            names.append(g.value(np.asarray(a, dtype=dt)))
    return names


def _dyn(g: GraphBuilder, name: str) -> tuple:
    return g.dyn.get(name, ())


def _axis(a: int, ndim: int) -> int:
    return a + ndim if a < 0 else a


def convert(g: GraphBuilder, ev: Any) -> list[str]:
    """Names of ``ev``'s outputs after emitting its nodes; raises ``Unsupported``."""
    fn = CONVERTERS.get(ev.opdef.name)
    if fn is None:
        fn = _generic(ev.opdef)
        if fn is None:
            raise Unsupported("no ONNX mapping")
    out = fn(g, ev)
    return list(out) if isinstance(out, list | tuple) else [out]


def _generic(opdef: Any) -> Callable | None:
    """A one-to-one op (declared ``onnx=``) whose only arguments are its tensor inputs."""
    if not opdef.onnx:
        return None
    params = inspect.signature(opdef.fn).parameters.values()
    if any(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) or p.default is not p.empty for p in params):
        return None

    def fn(g: GraphBuilder, ev: Any) -> Any:
        return g.node(opdef.onnx, _inputs(g, ev), n_out=len(ev.outputs))

    return fn


# ---------------------------------------------------------------- elementwise

for _name, _onnx in {
    "add": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "neg": "Neg",
    "exp": "Exp",
    "log": "Log",
    "sqrt": "Sqrt",
    "sin": "Sin",
    "cos": "Cos",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "relu": "Relu",
    "abs": "Abs",
    "reciprocal": "Reciprocal",
    "erf": "Erf",
    "maximum": "Max",
    "minimum": "Min",
    "sign": "Sign",
    "floor": "Floor",
    "ceil": "Ceil",
    "isnan": "IsNaN",
    "isinf": "IsInf",
    "eq": "Equal",
    "lt": "Less",
    "le": "LessOrEqual",
    "gt": "Greater",
    "ge": "GreaterOrEqual",
}.items():

    def _simple(g: GraphBuilder, ev: Any, _op: str = _onnx) -> str:
        return g.node(_op, _inputs(g, ev))

    CONVERTERS[_name] = _simple


@converter("pow")
def _pow(g: GraphBuilder, ev: Any) -> str:
    x, p = _inputs(g, ev)
    return g.node("Pow", [x, p])


@converter("ne")
def _ne(g: GraphBuilder, ev: Any) -> str:
    return g.node("Not", [g.node("Equal", _inputs(g, ev))])


@converter("isfinite")
def _isfinite(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    if _arr(ev.inputs[0]).dtype.kind != "f":
        return g.value(np.ones(_out(ev).shape, dtype=bool))
    return g.node("Not", [g.node("Or", [g.node("IsNaN", [x]), g.node("IsInf", [x])])])


def _bools(g: GraphBuilder, ev: Any) -> list[str]:
    return [
        g.cast(n, _arr(x).dtype if isinstance(_arr(x), np.ndarray) else np.float32, np.bool_)
        for n, x in zip(_inputs(g, ev), ev.inputs)
    ]


for _name, _onnx in {"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}.items():

    def _logical(g: GraphBuilder, ev: Any, _op: str = _onnx) -> str:
        return g.node(_op, _bools(g, ev))

    CONVERTERS[_name] = _logical


@converter("logical_not")
def _logical_not(g: GraphBuilder, ev: Any) -> str:
    return g.node("Not", _bools(g, ev))


for _name, _onnx in {"bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}.items():

    def _bitwise(g: GraphBuilder, ev: Any, _op: str = _onnx) -> str:
        if _dt(ev) == np.bool_:
            return g.node(_op, _inputs(g, ev))
        if g.opset < 18:
            raise Unsupported("integer bitwise ops need opset_version >= 18")
        return g.node("Bitwise" + _op, _inputs(g, ev))

    CONVERTERS[_name] = _bitwise


@converter("bitwise_not")
def _bitwise_not(g: GraphBuilder, ev: Any) -> str:
    if _dt(ev) == np.bool_:
        return g.node("Not", _inputs(g, ev))
    if g.opset < 18:
        raise Unsupported("integer bitwise ops need opset_version >= 18")
    return g.node("BitwiseNot", _inputs(g, ev))


@converter("remainder")
def _remainder(g: GraphBuilder, ev: Any) -> str:
    x, y = _inputs(g, ev)
    if _dt(ev).kind in "iu":
        return g.node("Mod", [x, y], fmod=0)
    # torch.remainder takes the divisor's sign: x − floor(x / y) · y
    return g.node("Sub", [x, g.node("Mul", [g.node("Floor", [g.node("Div", [x, y])]), y])])


@converter("floor_divide")
def _floor_divide(g: GraphBuilder, ev: Any) -> str:
    x, y = _inputs(g, ev)
    dt = _dt(ev)
    if dt.kind == "f":
        return g.node("Floor", [g.node("Div", [x, y])])
    xd, yd = g.cast(x, dt, np.float64), g.cast(y, dt, np.float64)
    return g.cast(g.node("Floor", [g.node("Div", [xd, yd])]), np.float64, dt)


@converter("log1p")
def _log1p(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Log", [g.node("Add", [x, g.value(np.asarray(1.0, _dt(ev)))])])


@converter("erfc")
def _erfc(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Sub", [g.value(np.asarray(1.0, _dt(ev))), g.node("Erf", [x])])


@converter("special_erfcx")
def _erfcx(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    one = g.value(np.asarray(1.0, _dt(ev)))
    erfc = g.node("Sub", [one, g.node("Erf", [x])])
    return g.node("Mul", [g.node("Exp", [g.node("Mul", [x, x])]), erfc])


@converter("special_log_ndtr")
def _log_ndtr(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    half = g.value(np.asarray(0.5, _dt(ev)))
    erf = g.node("Erf", [g.node("Mul", [x, g.value(np.asarray(1.0 / np.sqrt(2.0), _dt(ev)))])])
    return g.node("Log", [g.node("Add", [half, g.node("Mul", [half, erf])])])


@converter("rsqrt")
def _rsqrt(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Reciprocal", [g.node("Sqrt", [x])])


@converter("square")
def _square(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Mul", [x, x])


@converter("round")
def _round(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    if _dt(ev).kind != "f":
        return g.node("Identity", [x])
    d = ev.params.get("decimals", 0)
    if not d:
        return g.node("Round", [x])
    scale = g.value(np.asarray(10.0**d, _dt(ev)))
    return g.node("Div", [g.node("Round", [g.node("Mul", [x, scale])]), scale])


@converter("trunc")
def _trunc(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    if _dt(ev).kind != "f":
        return g.node("Identity", [x])
    return g.node("Mul", [g.node("Sign", [x]), g.node("Floor", [g.node("Abs", [x])])])


@converter("clamp")
def _clamp(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    dt = _dt(ev)
    lo, hi = ev.params.get("min"), ev.params.get("max")
    if np.ndim(_arr(lo)) or np.ndim(_arr(hi)):
        # Tensor bounds broadcast elementwise: Clip only takes scalars.
        y = x
        if lo is not None:
            y = g.node("Max", [y, g.value(_arr(lo), dt)])
        if hi is not None:
            y = g.node("Min", [y, g.value(_arr(hi), dt)])
        return y
    ins = [x, g.value(np.asarray(lo, dt)) if lo is not None else ""]
    if hi is not None:
        ins.append(g.value(np.asarray(hi, dt)))
    return g.node("Clip", ins)


@converter("where")
def _where(g: GraphBuilder, ev: Any) -> str:
    x, y = _inputs(g, ev)
    cond = ev.params["cond"]
    c = g.value(cond)
    c = g.cast(c, np.asarray(_arr(cond)).dtype, np.bool_)
    return g.node("Where", [c, x, y])


@converter("to_dtype")
def _to_dtype(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Cast", [x], to=onnx_dtype(_dt(ev)))


@converter("full_like")
def _full_like(g: GraphBuilder, ev: Any) -> str:
    from onnx import numpy_helper

    x = g.value(ev.inputs[0])
    value = numpy_helper.from_array(np.asarray([ev.params.get("fill_value", 0)], _dt(ev)))
    y = g.node("ConstantOfShape", [g.node("Shape", [x])], value=value)
    g.dyn[y] = _dyn(g, x)
    return y


@converter("identity_hook")
def _identity(g: GraphBuilder, ev: Any) -> list[str]:
    return _inputs(g, ev)


# ---------------------------------------------------------------- reductions


def _reduce_axes(ev: Any, key: str = "axis") -> Any:
    axis = ev.params.get(key)
    if axis is None:
        return None
    return (axis,) if isinstance(axis, int | np.integer) else tuple(axis)


def _reduced_dyn(g: GraphBuilder, name: str, ndim: int, axes: Any, keep: bool) -> tuple:
    dyn = _dyn(g, name) or (None,) * ndim
    axes = set(range(ndim)) if axes is None else {_axis(a, ndim) for a in axes}
    if keep:
        return tuple(None if i in axes else d for i, d in enumerate(dyn))
    return tuple(d for i, d in enumerate(dyn) if i not in axes)


for _name, _onnx in {
    "sum": "ReduceSum",
    "mean": "ReduceMean",
    "prod": "ReduceProd",
    "amax": "ReduceMax",
    "amin": "ReduceMin",
    "logsumexp": "ReduceLogSumExp",
}.items():

    def _reducer(g: GraphBuilder, ev: Any, _op: str = _onnx) -> str:
        (x,) = _inputs(g, ev)
        src = _arr(ev.inputs[0])
        x = g.cast(x, src.dtype if _op != "ReduceLogSumExp" else _dt(ev), _dt(ev))
        if src.dtype == np.bool_ and _op in ("ReduceMax", "ReduceMin"):
            x = g.cast(x, np.bool_, np.int32)
            y = g.cast(
                g.reduce(_op, x, _reduce_axes(ev), ev.params.get("keepdim", False)),
                np.int32,
                np.bool_,
            )
        else:
            y = g.reduce(_op, x, _reduce_axes(ev), ev.params.get("keepdim", False))
        g.dyn[y] = _reduced_dyn(g, x, src.ndim, _reduce_axes(ev), ev.params.get("keepdim"))
        return y

    CONVERTERS[_name] = _reducer


def _count(g: GraphBuilder, x: str, shape: tuple, axes: Any, dt: Any) -> str:
    """The number of elements reduced over ``axes``: a constant unless an axis is dynamic."""
    axes = list(range(len(shape))) if axes is None else [_axis(a, len(shape)) for a in axes]
    dyn = _dyn(g, x)
    if not any(dyn[a] is not None for a in axes if a < len(dyn)):
        return g.value(np.asarray(float(np.prod([shape[a] for a in axes])), dt))
    n = g.reduce("ReduceProd", g.shape_dims(x, axes), None, False)
    return g.cast(n, np.int64, dt)


@converter("var")
def _var(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    dt = _dt(ev)
    axes, keep = _reduce_axes(ev), ev.params.get("keepdim", False)
    d = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    ss = g.reduce("ReduceSum", g.node("Mul", [d, d]), axes, keep)
    n = _count(g, x, src.shape, axes, dt)
    c = g.value(np.asarray(float(ev.params.get("correction", 1)), dt))
    y = g.node("Div", [ss, g.node("Max", [g.node("Sub", [n, c]), g.value(np.asarray(0.0, dt))])])
    g.dyn[y] = _reduced_dyn(g, x, src.ndim, axes, keep)
    return y


@converter("norm")
def _norm(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    dt = _dt(ev)
    p = float(ev.params.get("p", 2.0))
    axes, keep = _reduce_axes(ev), ev.params.get("keepdim", False)
    if p == 2.0:
        y = g.reduce("ReduceL2", x, axes, keep)
    elif p == 1.0:
        y = g.reduce("ReduceL1", x, axes, keep)
    elif p == float("inf"):
        y = g.reduce("ReduceMax", g.node("Abs", [x]), axes, keep)
    elif p == float("-inf"):
        y = g.reduce("ReduceMin", g.node("Abs", [x]), axes, keep)
    elif p == 0.0:
        nz = g.cast(
            g.node("Not", [g.node("Equal", [x, g.value(np.asarray(0.0, dt))])]), np.bool_, dt
        )
        y = g.reduce("ReduceSum", nz, axes, keep)
    else:
        pw = g.node("Pow", [g.node("Abs", [x]), g.value(np.asarray(p, dt))])
        y = g.node("Pow", [g.reduce("ReduceSum", pw, axes, keep), g.value(np.asarray(1 / p, dt))])
    g.dyn[y] = _reduced_dyn(g, x, src.ndim, axes, keep)
    return y


@converter("cumsum")
def _cumsum(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    x = g.cast(x, _arr(ev.inputs[0]).dtype, _dt(ev))
    return g.node("CumSum", [x, g.value(np.asarray(ev.params.get("dim", 0), np.int64))])


def _arg(g: GraphBuilder, ev: Any, op_type: str, axis_key: str) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    if src.dtype == np.bool_:
        x = g.cast(x, np.bool_, np.int32)
    axis, keep = ev.params.get(axis_key), bool(ev.params.get("keepdim", False))
    if axis is None:
        flat = g.node("Reshape", [x, g.ints([-1])])
        y = g.node(op_type, [flat], axis=0, keepdims=0)
        if keep:
            y = g.node("Reshape", [y, g.ints([1] * src.ndim)])
        g.dyn[y] = (None,) * _out(ev).ndim
        return y
    y = g.node(op_type, [x], axis=int(axis), keepdims=int(keep))
    g.dyn[y] = _reduced_dyn(g, x, src.ndim, (axis,), keep)
    return y


@converter("argmax")
def _argmax(g: GraphBuilder, ev: Any) -> str:
    return _arg(g, ev, "ArgMax", "axis")


@converter("argmin")
def _argmin(g: GraphBuilder, ev: Any) -> str:
    return _arg(g, ev, "ArgMin", "axis")


@converter("max_dim", "min_dim")
def _max_dim(g: GraphBuilder, ev: Any) -> list[str]:
    (x,) = _inputs(g, ev)
    is_max = ev.opdef.name == "max_dim"
    dim, keep = int(ev.params.get("dim", 0)), bool(ev.params.get("keepdim", False))
    src = _arr(ev.inputs[0])
    xin = g.cast(x, np.bool_, np.int32) if src.dtype == np.bool_ else x
    v = g.reduce("ReduceMax" if is_max else "ReduceMin", xin, (dim,), keep)
    if src.dtype == np.bool_:
        v = g.cast(v, np.int32, np.bool_)
    i = g.node("ArgMax" if is_max else "ArgMin", [xin], axis=dim, keepdims=int(keep))
    g.dyn[v] = g.dyn[i] = _reduced_dyn(g, x, src.ndim, (dim,), keep)
    return [v, i]


# ---------------------------------------------------------------- linear algebra


@converter("matmul")
def _matmul(g: GraphBuilder, ev: Any) -> str:
    a, b = _inputs(g, ev)
    y = g.node("MatMul", [a, b])
    out = _out(ev)
    da, db = _dyn(g, a), _dyn(g, b)
    sa, sb = _arr(ev.inputs[0]).shape, _arr(ev.inputs[1]).shape
    dyn = [None] * out.ndim
    # Batch dims broadcast (right-aligned); the last two come from a's rows and b's columns.
    nb = out.ndim - (len(sa) >= 2) - (len(sb) >= 2)
    for s, d, tail in ((sa, da, len(sa) >= 2), (sb, db, len(sb) >= 2)):
        batch = len(s) - 2 if tail else 0
        for k in range(batch):
            j = nb - batch + k
            if d and d[k] is not None and s[k] == out.shape[j]:
                dyn[j] = d[k]
    if len(sa) >= 2 and da and da[-2] is not None:
        dyn[nb] = da[-2]
    if len(sb) >= 2 and db and db[-1] is not None:
        dyn[-1] = db[-1]
    g.dyn[y] = tuple(dyn)
    return y


@converter("einsum")
def _einsum(g: GraphBuilder, ev: Any) -> str:
    from ..ops.linalg import _parse

    ins, rhs = _parse(ev.params["equation"], tuple(_arr(x) for x in ev.inputs))
    return g.node("Einsum", _inputs(g, ev), equation=f"{','.join(ins)}->{rhs}")


@converter("outer")
def _outer(g: GraphBuilder, ev: Any) -> str:
    x, v = _inputs(g, ev)
    return g.node("Mul", [g.unsqueeze(x, [1]), g.unsqueeze(v, [0])])


# ---------------------------------------------------------------- shape


def _atoms(size: int, d: Any) -> list[list]:
    """An axis as factors ``[trace size, symbol or None]``: dynamic axes that were merged with
    others (``T·B`` after a reshape) remember which factor is dynamic."""
    if d is None:
        return [[size, None]]
    if isinstance(d, tuple):
        return [list(a) for a in d]
    return [[size, d]]


def _dyn_entry(atoms: list) -> Any:
    dyn = [a for a in atoms if a[1] is not None]
    if not dyn:
        return None
    if len(atoms) == 1:
        return atoms[0][1]
    return tuple(tuple(a) for a in atoms)


def reshape_plan(shape_in: tuple, dyn_in: tuple, shape_out: tuple) -> tuple[list, tuple]:
    """How each output axis of a reshape is made of the input's axes.

    Returns per output axis either an int (a fixed size), ``("copy", i)`` (input axis i, same
    index) or ``("atoms", [...])`` (a product of factors, some dynamic), and the output's
    dynamic-axis entries.
    """
    dyn_in = tuple(dyn_in) if dyn_in else (None,) * len(shape_in)
    plan: list = []
    dyn_out: list = []
    p = 0
    # Leading axes that are unchanged stay themselves (also resolves batch-1 ambiguity).
    while p < min(len(shape_in), len(shape_out)) and shape_in[p] == shape_out[p]:
        if dyn_in[p] is None:
            plan.append(int(shape_out[p]))
        else:
            plan.append(("copy", p))
        dyn_out.append(dyn_in[p])
        p += 1
    atoms = [a + [i] for i in range(p, len(shape_in)) for a in _atoms(shape_in[i], dyn_in[i])]
    for j in range(p, len(shape_out)):
        m, prod, group = int(shape_out[j]), 1, []
        while prod < m:
            if not atoms:
                raise DynamicUnsupported(f"reshape {tuple(shape_in)} -> {tuple(shape_out)}")
            size, sym, src = atoms[0]
            if m % (prod * size) == 0:
                group.append(atoms.pop(0))
                prod *= size
            elif sym is None and size % (m // prod) == 0:
                piece = m // prod
                group.append([piece, None, src])
                atoms[0] = [size // piece, None, src]
                prod = m
            elif sym is None and len(atoms) > 1 and atoms[1][1] is None:
                # fixed factors that straddle the boundary (2·6 → 3·4): merge and split again
                atoms[:2] = [[size * atoms[1][0], None, src]]
            else:
                raise DynamicUnsupported(
                    f"reshape {tuple(shape_in)} -> {tuple(shape_out)} splits a dynamic axis"
                )
        if any(a[1] is not None for a in group):
            plan.append(("atoms", group))
            dyn_out.append(_dyn_entry([a[:2] for a in group]))
        else:
            plan.append(m)
            dyn_out.append(None)
    if any(a[1] is not None for a in atoms):
        raise DynamicUnsupported(
            f"reshape {tuple(shape_in)} -> {tuple(shape_out)} removes a dynamic axis (was the "
            f"example traced with a batch of 1? use a batch of 2 or more)"
        )
    return plan, tuple(dyn_out)


def _reshape_to(g: GraphBuilder, x: str, shape_in: tuple, shape_out: tuple) -> str:
    """Reshape ``x`` keeping its dynamic axes dynamic (0 / −1 when enough, else Shape ops)."""
    dyn_in = _dyn(g, x)
    plan, dyn = reshape_plan(shape_in, dyn_in, shape_out)
    n_dyn = sum(1 for e in plan if isinstance(e, tuple) and e[0] == "atoms")
    if n_dyn <= 1:
        target = [e if isinstance(e, int) else (0 if e[0] == "copy" else -1) for e in plan]
        y = g.node("Reshape", [x, g.ints(target)])
    else:
        parts = []
        for e in plan:
            if isinstance(e, int):
                parts.append(g.ints([e]))
            elif e[0] == "copy":
                parts.append(g.shape_dims(x, [e[1]]))
            else:
                static = int(np.prod([a[0] for a in e[1] if a[1] is None]))
                val = None
                for _size, sym, src in e[1]:
                    if sym is None:
                        continue
                    atoms = _atoms(shape_in[src], dyn_in[src])
                    if sym in g.symbols and sum(a[1] is not None for a in atoms) > 1:
                        # the axis merged several dynamic sizes: read this one at the input
                        v = g.shape_dims(*g.symbols[sym])
                    else:
                        # a dynamic factor's value: its input axis over the axis' fixed factors
                        fixed = int(np.prod([a[0] for a in atoms if a[1] is None]))
                        v = g.shape_dims(x, [src])
                        if fixed != 1:
                            v = g.node("Div", [v, g.ints([fixed])])
                    val = v if val is None else g.node("Mul", [val, v])
                if static != 1:
                    val = g.node("Mul", [val, g.ints([static])])
                parts.append(val)
        y = g.node("Reshape", [x, g.node("Concat", parts, axis=0)])
    g.dyn[y] = dyn
    return y


@converter("reshape")
def _reshape(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    try:
        return _reshape_to(g, x, _arr(ev.inputs[0]).shape, _out(ev).shape)
    except DynamicUnsupported:
        # The factor bookkeeping could not place the batch; the second trace may still say
        # which target sizes follow an input's size (x.view(x.size(0) // 2, -1), say).
        alt = g.alt_event.params.get("shape") if g.alt_event is not None else None
        target = g.runtime_shape(_out(ev).shape, alt) if alt is not None else None
        if target is None:
            raise
        y = g.node("Reshape", [x, target])
        g.dyn[y] = tuple(None if a == b else "?" for a, b in zip(_out(ev).shape, alt))
        return y


@converter("permute")
def _permute(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    dims = [int(d) for d in ev.params.get("dims", ())]
    y = g.node("Transpose", [x], perm=dims)
    d = _dyn(g, x)
    g.dyn[y] = tuple(d[i] for i in dims) if d else (None,) * len(dims)
    return y


@converter("expand")
def _expand(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    shape = [int(s) for s in ev.params.get("shape", ())]
    lead = len(shape) - src.ndim
    d = _dyn(g, x)
    dyn = [None] * len(shape)
    kept = []
    for i in range(src.ndim):
        if d and d[i] is not None:
            shape[lead + i] = 1  # Expand broadcasts both ways: 1 keeps the input's size
            dyn[lead + i] = d[i]
            kept.append(lead + i)
    # sizes taken from another tensor (cls.expand(x.size(0), -1, -1)) follow the inputs
    alt = g.alt_event.params.get("shape") if g.alt_event is not None else None
    target = g.runtime_shape(shape, alt, keep=kept) if alt is not None else None
    if target is not None:
        dyn = [v if v is not None or a == b else "?" for v, a, b in zip(dyn, shape, alt)]
    y = g.node("Expand", [x, target if target is not None else g.ints(shape)])
    g.dyn[y] = tuple(dyn)
    return y


@converter("flip")
def _flip(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    dims = ev.params.get("dims", ())
    dims = [dims] if isinstance(dims, int) else list(dims)
    nd = _arr(ev.inputs[0]).ndim
    dims = [_axis(a, nd) for a in dims] if dims else list(range(nd))
    n = len(dims)
    return g.slice(x, [-1] * n, [INT_MIN] * n, dims, [-1] * n)


@converter("roll")
def _roll(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    shifts, dims = ev.params.get("shifts", 0), ev.params.get("dims")
    if dims is None:
        raise Unsupported("roll without dims")
    shifts = shifts if isinstance(shifts, tuple | list) else (shifts,)
    dims = dims if isinstance(dims, tuple | list) else (dims,)
    y = x
    for s, d in zip(shifts, dims):
        d = _axis(d, src.ndim)
        n = src.shape[d]
        s = int(s) % n if n else 0
        if s:
            head = g.slice(y, [n - s], [INT_MAX], [d])
            tail = g.slice(y, [0], [n - s], [d])
            y = g.node("Concat", [head, tail], axis=d)
    return y if y != x else g.node("Identity", [x])


def _merge_dyn(g: GraphBuilder, names: list[str], shapes: list[tuple], axis: int | None) -> tuple:
    dyn = [None] * len(shapes[0])
    for n in names:
        for i, d in enumerate(_dyn(g, n)):
            if d is not None and i != axis:
                dyn[i] = d
    if axis is not None and any(_dyn(g, n) and _dyn(g, n)[axis] is not None for n in names):
        dyn[axis] = "?"
    return tuple(dyn)


@converter("cat")
def _cat(g: GraphBuilder, ev: Any) -> str:
    names = _inputs(g, ev)
    shapes = [_arr(x).shape for x in ev.inputs]
    d = _axis(ev.params.get("dim", 0), len(shapes[0]))
    y = g.node("Concat", names, axis=d)
    g.dyn[y] = _merge_dyn(g, names, shapes, d)
    return y


@converter("stack")
def _stack(g: GraphBuilder, ev: Any) -> str:
    names = _inputs(g, ev)
    nd = _arr(ev.inputs[0]).ndim
    d = _axis(ev.params.get("dim", 0), nd + 1)
    y = g.node("Concat", [g.unsqueeze(n, [d]) for n in names], axis=d)
    dyn = list(_merge_dyn(g, names, [_arr(x).shape for x in ev.inputs], None))
    dyn.insert(d, None)
    g.dyn[y] = tuple(dyn)
    return y


@converter("split")
def _split(g: GraphBuilder, ev: Any) -> list[str]:
    (x,) = _inputs(g, ev)
    sizes = [int(s) for s in ev.params.get("sizes", ())]
    d = _axis(ev.params.get("dim", 0), _arr(ev.inputs[0]).ndim)
    outs = g.node("Split", [x, g.ints(sizes)], n_out=len(sizes), axis=d)
    outs = [outs] if isinstance(outs, str) else outs
    dyn = _dyn(g, x)
    for o in outs:
        g.dyn[o] = tuple(None if i == d else v for i, v in enumerate(dyn)) if dyn else ()
    return outs


@converter("pad")
def _pad(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    widths = ev.params.get("widths", ())
    pads = [int(b) for b, _ in widths] + [int(a) for _, a in widths]
    value = g.value(np.asarray(ev.params.get("value", 0.0), _dt(ev)))
    return g.node("Pad", [x, g.ints(pads), value], mode="constant")


@converter("pad_nd")
def _pad_nd(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    widths = list(ev.params.get("widths", ()))
    mode = ev.params.get("mode", "reflect")
    lead = src.ndim - len(widths)
    if mode == "circular":
        y = x
        for i, (lo, hi) in enumerate(widths):
            ax, n = lead + i, src.shape[lead + i]
            parts = []
            if lo:
                parts.append(g.slice(y, [n - lo], [INT_MAX], [ax]))
            parts.append(y)
            if hi:
                parts.append(g.slice(y, [0], [hi], [ax]))
            y = g.node("Concat", parts, axis=ax) if len(parts) > 1 else y
        return y if y != x else g.node("Identity", [x])
    full = [(0, 0)] * lead + [(int(a), int(b)) for a, b in widths]
    pads = [a for a, _ in full] + [b for _, b in full]
    return g.node("Pad", [x, g.ints(pads)], mode={"reflect": "reflect"}.get(mode, "edge"))


@converter("tril", "triu")
def _tri(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    k = g.value(np.asarray(int(ev.params.get("diagonal", 0)), np.int64))
    return g.node("Trilu", [x, k], upper=int(ev.opdef.name == "triu"))


@converter("repeat")
def _repeat(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    reps = [int(r) for r in ev.params.get("repeats", ())]
    lead = len(reps) - src.ndim
    if lead:
        x = g.unsqueeze(x, list(range(lead)))
    y = g.node("Tile", [x, g.ints(reps)])
    d = list(_dyn(g, x) or (None,) * src.ndim)
    dyn = [None] * lead + [
        v if reps[lead + i] == 1 else ("?" if v else None) for i, v in enumerate(d)
    ]
    g.dyn[y] = tuple(dyn)
    return y


# ---------------------------------------------------------------- indexing


def _is_adv(item: Any) -> bool:
    return isinstance(item, np.ndarray | list)


@converter("getitem")
def _getitem(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    index = ev.params.get("index", ())
    items = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(i, bool) for i in items):
        raise Unsupported("indexing with a Python bool")
    if Ellipsis in [i for i in items if not _is_adv(i)]:
        k = next(k for k, i in enumerate(items) if not _is_adv(i) and i is Ellipsis)
        used = sum(
            (np.asarray(i).ndim if np.asarray(i).dtype == np.bool_ else 1)
            for i in items
            if i is not None and i is not Ellipsis
        )
        items[k : k + 1] = [slice(None)] * (src.ndim - used)
    dyn = list(_dyn(g, x) or (None,) * src.ndim)
    if any(_is_adv(i) for i in items):
        return _advanced(g, ev, x, src, items, dyn)
    # Basic indexing: one Slice for every slice/int, then Squeeze the ints, Unsqueeze the Nones.
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    out_dyn: list = []
    ax = 0
    for it in items:
        if it is None:
            continue
        n = src.shape[ax]
        if isinstance(it, slice):
            if it.indices(n) != (0, n, 1) or it.step not in (None, 1):
                step = 1 if it.step is None else int(it.step)
                lo = it.start if it.start is not None else (0 if step > 0 else INT_MAX)
                hi = it.stop if it.stop is not None else (INT_MAX if step > 0 else INT_MIN)
                starts.append(int(lo))
                ends.append(int(hi))
                axes.append(ax)
                steps.append(step)
            kept = dyn[ax]
            if kept is not None and it.indices(n) != (0, n, 1):
                fixed = (
                    it.start is not None
                    and it.stop is not None
                    and (it.start >= 0) == (it.stop >= 0)
                )
                kept = None if fixed else "?"
            out_dyn.append(kept)
        else:
            i = int(it)
            starts.append(i)
            ends.append(INT_MAX if i == -1 else i + 1)
            axes.append(ax)
            steps.append(1)
            squeeze.append(ax)
        ax += 1
    out_dyn += dyn[ax:]
    y = x
    if axes:
        y = g.slice(y, starts, ends, axes, steps)
    if squeeze:
        y = g.squeeze(y, squeeze)
    nones = []
    pos = 0
    for it in items:
        if it is None:
            nones.append(pos)
            pos += 1
        elif isinstance(it, slice):
            pos += 1
    if nones:
        y = g.unsqueeze(y, nones)
        for p in nones:
            out_dyn.insert(p, None)
    if y == x:
        y = g.node("Identity", [x])
    g.dyn[y] = tuple(out_dyn)
    return y


def _advanced(g: GraphBuilder, ev: Any, x: str, src: np.ndarray, items: list, dyn: list) -> str:
    """Integer-array / boolean-mask indexing as Gather, GatherND or NonZero + GatherND."""
    if any(i is None for i in items):
        raise Unsupported("indexing that mixes None with index arrays")
    items = items + [slice(None)] * (src.ndim - len(items))
    # Basic slices first (they keep their axes), leaving only the advanced items to resolve.
    starts, ends, axes, steps = [], [], [], []
    for ax, it in enumerate(items):
        if isinstance(it, slice) and it.indices(src.shape[ax]) != (0, src.shape[ax], 1):
            step = 1 if it.step is None else int(it.step)
            starts.append(int(it.start) if it.start is not None else (0 if step > 0 else INT_MAX))
            ends.append(int(it.stop) if it.stop is not None else (INT_MAX if step > 0 else INT_MIN))
            axes.append(ax)
            steps.append(step)
            dyn[ax] = "?" if dyn[ax] is not None else None
    if axes:
        x = g.slice(x, starts, ends, axes, steps)
    adv = [ax for ax, it in enumerate(items) if not isinstance(it, slice)]
    arrays = [it for it in items if not isinstance(it, slice)]
    bools = [a for a in arrays if isinstance(a, np.ndarray) and a.dtype == np.bool_]
    if bools and len(arrays) > 1:
        raise Unsupported("a boolean mask combined with other index arrays")
    rest = [ax for ax in range(src.ndim) if ax not in adv]
    adjacent = adv == list(range(adv[0], adv[0] + len(adv)))
    if len(arrays) == 1 and not bools:
        idx = g.cast(g.value(arrays[0]), np.asarray(arrays[0]).dtype, np.int64)
        y = g.node("Gather", [x, idx], axis=adv[0])
        idyn = list(_dyn(g, g.value(arrays[0])) or (None,) * np.ndim(arrays[0]))
        g.dyn[y] = tuple(dyn[: adv[0]] + idyn + dyn[adv[0] + 1 :])
        return y
    # Bring the indexed axes to the front, gather with stacked coordinates.
    perm = adv + rest
    xt = x if perm == list(range(src.ndim)) else g.node("Transpose", [x], perm=perm)
    if bools:
        mask = g.value(bools[0])
        coords = g.node("Transpose", [g.node("NonZero", [mask])], perm=[1, 0])
        bshape_nd = 1
        bdyn = ["?"]
    else:
        shapes = [np.shape(a) for a in arrays]
        bshape = np.broadcast_shapes(*shapes)
        cols = []
        for a in arrays:
            name = g.cast(g.value(a), np.asarray(a).dtype, np.int64)
            name = g.node("Expand", [name, g.ints(bshape)])
            cols.append(g.unsqueeze(name, [-1]))
        coords = g.node("Concat", cols, axis=-1)
        bshape_nd = len(bshape)
        bdyn = [None] * bshape_nd
    y = g.node("GatherND", [xt, coords])
    rdyn = [dyn[ax] for ax in rest]
    if adjacent and adv[0] > 0:
        p = adv[0]
        order = list(range(bshape_nd, bshape_nd + p)) + list(range(bshape_nd))
        order += list(range(bshape_nd + p, bshape_nd + len(rest)))
        y = g.node("Transpose", [y], perm=order)
        g.dyn[y] = tuple(rdyn[:p] + bdyn + rdyn[p:])
    else:
        g.dyn[y] = tuple(bdyn + rdyn)
    return y


def _index(g: GraphBuilder, ev: Any) -> str:
    """The op's ``index`` parameter as an int64 graph value (ONNX's index type)."""
    idx = ev.params["index"]
    return g.cast(g.value(idx), np.asarray(_arr(idx)).dtype, np.int64)


@converter("gather")
def _gather(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("GatherElements", [x, _index(g, ev)], axis=int(ev.params.get("dim", 0)))


@converter("index_select")
def _index_select(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    return g.node("Gather", [x, _index(g, ev)], axis=int(ev.params.get("dim", 0)))


@converter("scatter_add")
def _scatter_add(g: GraphBuilder, ev: Any) -> str:
    x, s = _inputs(g, ev)
    idx = np.asarray(_arr(ev.params["index"]))
    i = _index(g, ev)
    if _arr(ev.inputs[1]).shape != idx.shape:
        nd = idx.ndim
        s = g.slice(s, [0] * nd, list(idx.shape), list(range(nd)))
    return g.node("ScatterElements", [x, i, s], axis=int(ev.params.get("dim", 0)), reduction="add")


@converter("masked_fill")
def _masked_fill(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    mask = ev.params["mask"]
    m = g.cast(g.value(mask), np.asarray(_arr(mask)).dtype, np.bool_)
    v = g.value(np.asarray(_arr(ev.params.get("value", 0.0)), _dt(ev)))
    return g.node("Where", [m, v, x])


@converter("index_put")
def _index_put(g: GraphBuilder, ev: Any) -> str:
    x, v = _inputs(g, ev)
    src = _arr(ev.inputs[0])
    dyn = _dyn(g, x) or (None,) * src.ndim
    if any(d is not None for d in dyn):
        y = _index_put_masked(g, ev, x, v, src, list(dyn))
        if y is None:
            raise DynamicUnsupported("writing into a slice of a tensor with a dynamic axis")
        return y
    grid = np.indices(src.shape)
    coords = np.stack([c[ev.params.get("index", ())] for c in grid], axis=-1).astype(np.int64)
    vals = g.node("Expand", [v, g.ints(coords.shape[:-1])])
    return g.node("ScatterND", [x, g.const(coords), vals])


def _index_put_masked(
    g: GraphBuilder, ev: Any, x: str, v: str, src: np.ndarray, dyn: list
) -> str | None:
    """``x[index] = v`` for basic slices that keep dynamic axes whole: Where(mask, v padded
    to x's shape, x), with size 1 on the dynamic axes so they broadcast. None if not basic."""
    index = ev.params.get("index", ())
    items = list(index) if isinstance(index, tuple) else [index]
    if any(_is_adv(i) or i is None or isinstance(i, bool) for i in items):
        return None
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items[k : k + 1] = [slice(None)] * (src.ndim - len(items) + 1)
    items += [slice(None)] * (src.ndim - len(items))
    mask_shape, region, pads_lo, pads_hi, ints = [], [], [], [], []
    for ax, (it, d) in enumerate(zip(items, dyn)):
        n = src.shape[ax]
        if isinstance(it, slice):
            lo, hi, step = it.indices(n)
            if step != 1:
                return None
            if d is not None:
                if (lo, hi) != (0, n):
                    return None
                mask_shape.append(1)
                region.append(slice(None))
                pads_lo.append(0)
                pads_hi.append(0)
                continue
            hi = max(hi, lo)
        else:
            if d is not None:
                return None
            lo = int(it) % n
            hi = lo + 1
            ints.append(ax)
        mask_shape.append(n)
        region.append(slice(lo, hi))
        pads_lo.append(lo)
        pads_hi.append(n - hi)
    mask = np.zeros(mask_shape, dtype=bool)
    mask[tuple(region)] = True
    # v broadcast to the written region (dynamic axes 1), ints re-inserted, padded to x's shape
    reg = [1 if d is not None else r.stop - r.start for r, d in zip(region, dyn)]
    reg_sq = [n for ax, n in enumerate(reg) if ax not in ints]
    vv = g.node("Expand", [v, g.ints(reg_sq)]) if reg_sq else v
    if ints:
        vv = g.unsqueeze(vv, ints)
    vv = g.node("Expand", [vv, g.ints(reg)])
    if any(pads_lo) or any(pads_hi):
        vv = g.node("Pad", [vv, g.ints(pads_lo + pads_hi)])
    y = g.node("Where", [g.const(mask), vv, x])
    g.dyn[y] = tuple(dyn)
    return y


# ---------------------------------------------------------------- activations


@converter("softmax", "log_softmax")
def _softmax(g: GraphBuilder, ev: Any) -> str:
    (x,) = _inputs(g, ev)
    op_type = "Softmax" if ev.opdef.name == "softmax" else "LogSoftmax"
    return g.node(op_type, [x], axis=int(ev.params.get("dim", -1)))


# The layer converters (conv, pooling, recurrent, norms, attention, losses) register themselves
# on import; they live in their own file so that each reads in one sitting.
from . import _converters_nn  # noqa: E402, F401
