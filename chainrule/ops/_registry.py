"""The ``@op`` decorator: turns an ndarray-level ``(out, vjp)`` function into a Tensor-level one.

An op's forward and gradient are written once, side by side, on NumPy arrays::

    @op("tanh", formula="x̄ = ȳ · (1 − y²)", onnx="Tanh")
    def tanh(x):
        y = np.tanh(x)
        def vjp(g, needs):
            return (g * (1.0 - y * y),)
        return y, vjp

The wrapper here does everything that is the same for every op: unwrap tensors, promote dtypes
the way ``torch.result_type`` does, compute float16 in float32 ("opmath"), keep float32 outputs
float32 (NumPy scalars and NumPy's own promotion would drift to float64), and record a graph
``Node`` only when grad mode is on and some input requires grad.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from .._dtype import get_default_dtype, result_type
from ..autograd.engine import Node
from ..autograd.grad_mode import state

__all__ = ["op", "OpDef", "REGISTRY", "NONDIFF"]

REGISTRY: dict[str, OpDef] = {}
NONDIFF: dict[str, OpDef] = {}

_F16 = np.dtype(np.float16)
_WEAK = (float, int)
_F32 = np.dtype(np.float32)

_Tensor: Any = None  # set by _tensor.py, which imports ops (breaks the import cycle)
_make: Any = None

# ONNX export sets this to a callable ``(opdef, inputs, params, outputs)`` for one traced forward
# pass; ``None`` otherwise, so the only cost when off is one global check per op call.
_tracer: Any = None


class OpDef:
    """What the registry knows about an op: its name, formula, ONNX name and conventions."""

    __slots__ = (
        "name",
        "fn",
        "formula",
        "onnx",
        "backward_name",
        "differentiable",
        "promote",
        "float_only",
        "multi",
        "opmath",
        "quiet",
    )

    def __init__(
        self,
        name: str,
        fn: Callable,
        formula: str,
        onnx: str | None,
        backward_name: str | None,
        differentiable: bool,
        promote: bool,
        float_only: bool,
        multi: bool,
        opmath: bool = True,
        quiet: bool = False,
    ) -> None:
        self.name = name
        self.fn = fn
        self.formula = formula
        self.onnx = onnx
        camel = "".join(part.capitalize() for part in name.split("_"))
        self.backward_name = backward_name or f"{camel}Backward0"
        self.differentiable = differentiable
        self.promote = promote
        self.float_only = float_only
        self.multi = multi
        self.opmath = opmath
        self.quiet = quiet

    def __repr__(self) -> str:
        return f"OpDef({self.name!r})"


class OpFunction:
    """The Tensor-level callable that ``@op`` returns (the raw function is ``.raw``)."""

    __slots__ = ("opdef", "raw", "__name__", "__wrapped__", "__dict__")

    def __init__(self, opdef: OpDef) -> None:
        self.opdef = opdef
        self.raw = opdef.fn
        self.__name__ = opdef.fn.__name__
        self.__doc__ = opdef.fn.__doc__
        self.__wrapped__ = opdef.fn

    def __call__(self, *inputs: Any, **params: Any) -> Any:
        return apply(self.opdef, inputs, params)

    def __repr__(self) -> str:
        return f"<op {self.opdef.name}>"


def op(
    name: str,
    *,
    formula: str = "",
    onnx: str | None = None,
    backward_name: str | None = None,
    differentiable: bool = True,
    promote: bool = False,
    float_only: bool = False,
    multi: bool = False,
    opmath: bool = True,
    quiet: bool = False,
) -> Callable[[Callable], OpFunction]:
    """Register an op. Differentiable ops return ``(out, vjp)``; others return ``out``.

    Args:
        name: the op's name (also the key in ``REGISTRY``).
        formula: the gradient as a short human string, printed by ``diagnose.explain``.
        onnx: the ONNX operator this op maps to one-to-one, if any.
        differentiable: False for comparisons, argmax and the like (outputs never need grad).
        promote: promote inputs to one dtype by ``torch.result_type`` (binary elementwise ops).
        float_only: integer/bool inputs are cast to the default float dtype first (exp, sin …).
        multi: the op returns a tuple of outputs and its VJP takes a tuple of gradients.
        opmath: compute float16 inputs in float32 and store the result as float16 (False for
            ops that choose their output dtype themselves, such as casts).
        quiet: the forward may divide by zero, overflow or take log(0): silence NumPy's
            warnings and return inf/nan as torch does (costs ~0.6 µs, so only where needed).
    """

    def deco(fn: Callable) -> OpFunction:
        if name in REGISTRY or name in NONDIFF:
            raise ValueError(f"op {name!r} is registered twice")
        opdef = OpDef(
            name,
            fn,
            formula,
            onnx,
            backward_name,
            differentiable,
            promote,
            float_only,
            multi,
            opmath,
            quiet,
        )
        (REGISTRY if differentiable else NONDIFF)[name] = opdef
        return OpFunction(opdef)

    return deco


def with_backward_name(fn: OpFunction, backward_name: str) -> OpFunction:
    """The op ``fn`` under another grad_fn name, for one op that serves several torch functions
    (``getitem`` is torch's SelectBackward0, SliceBackward0 …). Same forward, VJP, op name and
    ONNX mapping; not registered again."""
    opdef = copy.copy(fn.opdef)
    opdef.backward_name = backward_name
    return OpFunction(opdef)


def _unwrap(inputs: tuple) -> tuple[list, bool]:
    arrays = []
    requires = False
    Tensor = _Tensor
    for x in inputs:
        if isinstance(x, Tensor):
            arrays.append(x._data)
            if x.requires_grad:
                requires = True
        else:
            arrays.append(x)
    return arrays, requires


def _promote(arrays: list) -> np.dtype | None:
    """The common dtype of the inputs, by torch's rules; fast when they already agree."""
    dt = None
    mixed = False
    has_scalar = False
    for a in arrays:
        if type(a) is np.ndarray:
            if dt is None:
                dt = a.dtype
            elif a.dtype is not dt and a.dtype != dt:
                mixed = True
        elif a is not None:
            has_scalar = True
    if dt is None:
        return None
    if not mixed and (not has_scalar or dt.kind == "f"):
        return dt
    return result_type(*[a for a in arrays if a is not None])


def apply(opdef: OpDef, inputs: tuple, params: dict) -> Any:
    """Run ``opdef`` on ``inputs`` and, if needed, record its Node.

    This is the per-op hot path for small models: one pass over the inputs, no generator
    expressions, dtype fix-ups only when an input actually needs one.
    """
    if _tracer is not None:
        return _apply_traced(opdef, inputs, params)
    Tensor = _Tensor
    arrays = []
    requires = False
    half = False
    for x in inputs:
        if isinstance(x, Tensor):
            a = x._data
            if x.requires_grad:
                requires = True
            if a.dtype is _F16:
                half = True
            arrays.append(a)
        else:
            arrays.append(x)
    if opdef.promote:
        dt = _promote(arrays)
        if dt is not None:
            for i, a in enumerate(arrays):
                if type(a) is np.ndarray:
                    if a.dtype is not dt and a.dtype != dt:
                        arrays[i] = a.astype(dt)
                elif a is not None and not (dt.kind == "f" and type(a) in _WEAK):
                    # why: NumPy 2 already treats Python numbers as weak next to float arrays
                    try:
                        arrays[i] = dt.type(a)
                    except OverflowError:  # torch wraps an out-of-range int (uint8 + 300)
                        arrays[i] = np.array(a).astype(dt)[()]
    if opdef.float_only:
        for i, a in enumerate(arrays):
            if type(a) is np.ndarray and a.dtype.kind != "f":
                arrays[i] = a.astype(get_default_dtype().np)
    # float16 is a storage type: compute in float32, store the result back as float16.
    if half:
        # re-checked after promotion: float16 + float32 computes and stays float32
        half = False
        if opdef.opmath:
            for i, a in enumerate(arrays):
                if type(a) is np.ndarray and a.dtype is _F16:
                    arrays[i] = a.astype(_F32)
                    half = True
    try:
        if opdef.quiet:
            with np.errstate(all="ignore"):
                result = opdef.fn(*arrays, **params)
        else:
            result = opdef.fn(*arrays, **params)
    except ValueError as e:
        if "broadcast" in str(e):
            raise _broadcast_error(opdef, arrays) from None
        raise
    if not opdef.differentiable:
        return _wrap_plain(result, half)
    out, vjp = result
    if state.anomaly:
        _check_forward(opdef, out, arrays)
    if not (requires and state.enabled):
        return _wrap_plain(out, half)
    n = len(inputs)
    if n == 1 and isinstance(inputs[0], Tensor):  # unary ops: nothing to loop over
        x = inputs[0]
        tensors, needs, versions = inputs, (True,), (x._vc[0],)
    elif n == 2 and isinstance(inputs[0], Tensor) and isinstance(inputs[1], Tensor):
        x, y = inputs
        tensors = inputs
        needs = (x.requires_grad, y.requires_grad)
        versions = (x._vc[0], y._vc[0])
    elif (
        n == 3
        and isinstance(inputs[0], Tensor)
        and isinstance(inputs[1], Tensor)
        and isinstance(inputs[2], Tensor)
    ):  # linear(x, W, b) and other three-tensor ops (Parameters included)
        x, y, z = inputs
        tensors = inputs
        needs = (x.requires_grad, y.requires_grad, z.requires_grad)
        versions = (x._vc[0], y._vc[0], z._vc[0])
    else:
        tensors = tuple([x if isinstance(x, Tensor) else None for x in inputs])
        needs = tuple([x is not None and x.requires_grad for x in tensors])
        versions = tuple([0 if x is None else x._vc[0] for x in tensors])
    make = _make
    if opdef.multi:
        outs = [_fix(o, half) for o in out]
        meta = tuple((o.shape, o.dtype) for o in outs)
        node = Node(vjp, tensors, needs, opdef, len(outs), meta, versions)
        return tuple(
            make(o, node, k) if o.dtype.kind == "f" else make(o, None, 0)
            for k, o in enumerate(outs)
        )
    if type(out) is not np.ndarray or half:
        out = _fix(out, half)
    if out.dtype.kind != "f":
        return make(out, None, 0)
    return make(out, Node(vjp, tensors, needs, opdef, 1, None, versions), 0)


def _apply_traced(opdef: OpDef, inputs: tuple, params: dict) -> Any:
    """Run the op with tracing off (so it is recorded once), then report it to the tracer."""
    global _tracer
    tracer, _tracer = _tracer, None
    try:
        out = apply(opdef, inputs, params)
    finally:
        _tracer = tracer
    tracer(opdef, inputs, params, out)
    return out


def _broadcast_error(opdef: OpDef, arrays: list) -> RuntimeError:
    """torch's text for shapes that do not broadcast, naming the op and every shape."""
    shapes = [np.shape(a) for a in arrays if a is not None]
    detail = ""
    for i in range(1, max(len(s) for s in shapes) + 1):
        sizes = [s[-i] for s in shapes if len(s) >= i and s[-i] != 1]
        if len(set(sizes)) > 1:
            a, b = sizes[0], next(n for n in sizes if n != sizes[0])
            dim = max(len(s) for s in shapes) - i
            detail = (
                f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                f"non-singleton dimension {dim}"
            )
            break
    listed = " and ".join(str(tuple(s)) for s in shapes)
    return RuntimeError(f"{detail} ({opdef.name}: shapes {listed} do not broadcast)")


def _fix(out: Any, half: bool) -> np.ndarray:
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if half and out.dtype is _F32:
        out = out.astype(_F16)
    return out


def _wrap_plain(out: Any, half: bool) -> Any:
    if type(out) is np.ndarray and not half:  # the no_grad hot path (optimizer updates)
        return _make(out, None, 0)
    if isinstance(out, tuple | list):
        return tuple(_make(_fix(o, half), None, 0) for o in out)
    return _make(_fix(out, half), None, 0)


def _check_forward(opdef: OpDef, out: Any, arrays: list | None = None) -> None:
    """Anomaly mode: stop at the first op whose output has nan/inf, naming the op, the user's
    line that called it and the statistics of its inputs (what pushed it out of its domain)."""
    outs = out if isinstance(out, tuple | list) else (out,)
    for k, o in enumerate(outs):
        o = np.asarray(o)
        if o.dtype.kind == "f" and not np.isfinite(o).all():
            from ..autograd.engine import capture_stack, describe_array, user_origin

            lines = [
                f"anomaly: op '{opdef.name}' produced nan/inf in the forward pass "
                f"(output {k}: {describe_array(o)})"
            ]
            for i, a in enumerate(arrays or ()):
                if isinstance(a, np.ndarray):
                    lines.append(f"input {i}: {describe_array(a)}")
                elif a is not None:
                    lines.append(f"input {i}: {a!r}")
            raise RuntimeError("\n".join(lines) + user_origin(capture_stack()))
