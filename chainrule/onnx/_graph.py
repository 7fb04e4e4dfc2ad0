"""Build an ONNX graph from traced values: names, constants, nodes and dynamic axes.

Every traced value gets a name. Values are found by the identity of their Tensor or of its
ndarray (aliases such as ``detach()`` share the array), parameters and buffers become
initialisers named after their state_dict keys, and anything else the model touched becomes a
constant. Each value also carries, per axis, either ``None`` (a fixed size), the name of a
dynamic axis (``"?"`` when it is dynamic without a name) or, for an axis that a reshape merged
from several, its factors ``((size, name or None), …)``. The shape converters need this to write
shapes that still work at another batch size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._tensor import Tensor

__all__ = [
    "GraphBuilder",
    "Unsupported",
    "DynamicUnsupported",
    "Untraced",
    "onnx_dtype",
    "INT_MAX",
    "INT_MIN",
]

INT_MAX = np.iinfo(np.int64).max
INT_MIN = np.iinfo(np.int64).min

_DTYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.bool_): TensorProto.BOOL,
}


class Unsupported(Exception):
    """Raised by a converter for a case it cannot express; the exporter adds op and module."""


class DynamicUnsupported(Unsupported):
    """The op works with fixed shapes but cannot keep a dynamic axis dynamic."""


class Untraced(Unsupported):
    """A tensor in the graph was computed outside chainrule's ops (e.g. an autograd.Function
    whose forward uses NumPy): the op that made it has no ONNX mapping."""

    def __init__(self, op_name: str) -> None:
        super().__init__(
            "it computes its result outside chainrule's ops (NumPy inside forward?), so no "
            "ONNX mapping exists"
        )
        self.op_name = op_name


def onnx_dtype(dt: Any) -> int:
    """The ONNX element type of a NumPy dtype."""
    dt = np.dtype(dt)
    if dt not in _DTYPES:
        raise Unsupported(f"dtype {dt} has no ONNX equivalent here")
    return _DTYPES[dt]


class GraphBuilder:
    """Accumulates nodes and initialisers; maps traced tensors to value names."""

    def __init__(self, opset: int, named_arrays: dict[int, str]) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.dyn: dict[str, tuple] = {}
        self.by_tensor: dict[int, str] = {}
        self.by_array: dict[int, str] = {}
        self.by_node: dict[tuple[int, int], str] = {}
        self.versions: dict[int, int] = {}
        self.state: dict[int, tuple] = {}  # id(tensor) -> (grad_fn, out_idx, version) when traced
        self.live: set[str] = set()  # values computed from the graph's inputs (not constants)
        # A second trace with every dynamic axis twice as long tells which sizes follow the inputs:
        # ``alt`` maps id(argument of the op being converted) -> the same argument in that trace.
        self.alt: dict[int, Any] = {}
        self.alt_event: Any = None
        self.dim_sources: list[tuple[str, int, int, int]] = []  # (input, axis, size, alt size)
        self.symbols: dict[str, tuple[str, list[int]]] = {}  # axis name -> (input, [axis])
        self.named = named_arrays  # id(Tensor) or id(ndarray) -> state_dict key
        self._keep: list[Any] = []
        self._used: set[str] = set()
        self._n = 0
        self._keys = set(named_arrays.values())  # fresh names never take a state_dict key
        self._key_names: dict[str, str] = {}

    # ------------------------------------------------------------ names

    def fresh(self, hint: str) -> str:
        """A new unique value name."""
        while True:
            self._n += 1
            name = f"{hint}_{self._n}"
            if name not in self._used and name not in self._keys:
                self._used.add(name)
                return name

    def reserve(self, name: str) -> str:
        """Claim a user-given name (inputs, outputs, state_dict keys)."""
        self._used.add(name)
        return name

    def bind(self, obj: Any, name: str, dyn: tuple) -> None:
        """Record that the traced tensor ``obj`` is the ONNX value ``name``."""
        self._keep.append(obj)
        if isinstance(obj, Tensor):
            self.by_tensor[id(obj)] = name
            self.by_array[id(obj._data)] = name
            grad_fn, out_idx, version = self._state(obj)
            self.versions[id(obj)] = version
            if grad_fn is not None:
                # The graph position identifies a value even after in-place ops rewrote the
                # tensor's storage (setitem keeps the array and moves the tensor to a new node).
                self._keep.append(grad_fn)
                self.by_node[(id(grad_fn), out_idx)] = name
        elif isinstance(obj, np.ndarray):
            self.by_array[id(obj)] = name
        self.dyn[name] = tuple(dyn)

    def _state(self, t: Tensor) -> tuple:
        """(grad_fn, output index, version) of ``t`` when the op being converted ran."""
        state = self.state.get(id(t))
        return state if state is not None else (t.grad_fn, t._out_idx, t._vc[0])

    def lookup(self, obj: Any) -> str | None:
        """The name of a traced value, or None."""
        if isinstance(obj, Tensor):
            grad_fn, out_idx, version = self._state(obj)
            if grad_fn is not None:
                name = self.by_node.get((id(grad_fn), out_idx))
                if name is not None:
                    return name
            name = self.by_array.get(id(obj._data))
            if name is None:
                name = self.by_tensor.get(id(obj))
            seen = self.versions.get(id(obj))
            if name is not None and seen is not None and seen != version:
                raise Unsupported(
                    "an input was modified in place outside the recorded ops (an in-place op "
                    "on a tensor that does not require grad)"
                )
            return name
        if isinstance(obj, np.ndarray):
            name = self.by_array.get(id(obj))
            return name if name is not None else self._view_of(obj)
        return None

    def _view_of(self, arr: np.ndarray) -> str | None:
        """A NumPy view (``idx.reshape(-1)``, ``astype(copy=False)`` …) of a traced array."""
        base = arr.base
        while isinstance(base, np.ndarray):
            name = self.by_array.get(id(base))
            if name is not None and base.dtype == arr.dtype:
                if base.shape == arr.shape:
                    return name
                if base.size == arr.size and arr.flags.c_contiguous and base.flags.c_contiguous:
                    out = self.node("Reshape", [name, self.ints(arr.shape)])
                    self.bind(arr, out, (None,) * arr.ndim)
                    return out
                return None
            base = base.base
        return None

    def value(self, obj: Any, dtype: Any = None) -> str:
        """The name of ``obj``: a traced value, a parameter/buffer, or a new constant."""
        name = self.lookup(obj)
        if name is not None:
            return name
        arr = obj._data if isinstance(obj, Tensor) else obj
        if isinstance(obj, Tensor) and self._state(obj)[0] is not None:
            # Derived from the traced input by something the tracer did not see: exporting it
            # as a constant would silently freeze the example's values.
            grad_fn = self._state(obj)[0]
            raise Untraced(getattr(grad_fn.opdef, "name", grad_fn.name()))
        key = None
        if isinstance(obj, Tensor):
            key = self.named.get(id(obj)) or self.named.get(id(obj._data))
        elif isinstance(obj, np.ndarray):
            key = self.named.get(id(obj))
        if key is not None and (dtype is None or np.dtype(dtype) == arr.dtype):
            name = self._key_names.get(key)
            if name is None:
                name = key if key not in self._used else self.fresh(key)  # an input's name
                self.initializers[name] = numpy_helper.from_array(np.asarray(arr), name)
                self.reserve(name)
                self.dyn[name] = (None,) * np.ndim(arr)
                self._key_names[key] = name
            self._keep.append(obj)
            self.by_array[id(arr)] = name
            return name
        if dtype is not None:
            arr = np.asarray(arr, dtype=dtype)
        elif not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
            if arr.dtype == np.float64 and isinstance(obj, float):
                arr = arr.astype(np.float32)
        filled = self._filled_like_inputs(obj, arr)
        return filled if filled is not None else self.const(arr)

    def _filled_like_inputs(self, obj: Any, arr: np.ndarray) -> str | None:
        """A one-value constant whose size followed the inputs' (``zeros(x.size(0), h)``) as
        ConstantOfShape of a shape computed from the inputs, so the batch stays dynamic."""
        alt = self.alt.get(id(obj))
        if alt is None or not arr.ndim or not arr.size:
            return None
        shape_b = tuple(np.shape(alt._data if isinstance(alt, Tensor) else alt))
        flat = arr.reshape(-1)
        if shape_b == arr.shape:
            return None
        if arr.ndim == 1 and arr.dtype.kind in "iuf" and np.array_equal(arr, np.arange(arr.size)):
            # arange(x.size(1)) (positions) as cumsum(ones(n)) − 1 with n read from the input.
            # why not Range: onnxruntime's Gather(Range) → Slice rewrite fails on it (1.32)
            n = self.runtime_dim(arr.size, shape_b[0])
            if n is None:
                return None
            one = np.ones(1, arr.dtype)
            ones = self.node("ConstantOfShape", [n], value=numpy_helper.from_array(one))
            axis0 = self.const(np.asarray(0, np.int64))
            y = self.node("Sub", [self.node("CumSum", [ones, axis0]), self.const(one)])
            self.dyn[y] = ("?",)
            return y
        if not (flat == flat[0]).all():
            return None
        shape = self.runtime_shape(arr.shape, shape_b)
        if shape is None:
            return None
        y = self.node("ConstantOfShape", [shape], value=numpy_helper.from_array(flat[:1].copy()))
        self.dyn[y] = tuple(None if a == b else "?" for a, b in zip(arr.shape, shape_b))
        return y

    def runtime_dim(self, a: int, b: int) -> str | None:
        """An int64 [1] value for a size that was ``a`` in this trace and ``b`` in the other:
        a multiple of a dynamic input axis that changed the same way, or None."""
        for name, axis, sa, sb in self.dim_sources:
            if not (a and sa) or a * sb != b * sa:
                continue
            if a % sa == 0:
                d = self.shape_dims(name, [axis])
                return d if a == sa else self.node("Mul", [d, self.ints([a // sa])])
            if sa % a == 0:
                return self.node("Div", [self.shape_dims(name, [axis]), self.ints([sa // a])])
        return None

    def runtime_shape(self, shape_a: Any, shape_b: Any, keep: Any = ()) -> str | None:
        """A shape tensor: fixed entries stay constants, entries that changed between the two
        traces follow the inputs (``keep``: positions to write as given, unchecked)."""
        if shape_b is None or len(shape_a) != len(shape_b):
            return None
        if all(a == b or i in keep for i, (a, b) in enumerate(zip(shape_a, shape_b))):
            return None
        parts = []
        for i, (a, b) in enumerate(zip(shape_a, shape_b)):
            if a == b or i in keep:
                parts.append(self.ints([a]))
                continue
            d = self.runtime_dim(int(a), int(b))
            if d is None:
                return None
            parts.append(d)
        return self.node("Concat", parts, axis=0)

    def const(self, arr: Any, hint: str = "const") -> str:
        """A new initialiser holding ``arr``."""
        arr = np.ascontiguousarray(arr)
        name = self.fresh(hint)
        self.initializers[name] = numpy_helper.from_array(arr, name)
        self.dyn[name] = (None,) * arr.ndim
        return name

    def ints(self, values: Any) -> str:
        """An int64 1-D constant (shapes, axes, pads …)."""
        return self.const(np.asarray(list(values), dtype=np.int64), "ints")

    # ------------------------------------------------------------ nodes

    def node(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> Any:
        """Append a node; returns its output name (or list of names when ``n_out != 1``)."""
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def cast(self, name: str, src: Any, dst: Any) -> str:
        """``name`` converted from dtype ``src`` to ``dst`` (no node when they agree)."""
        if np.dtype(src) == np.dtype(dst):
            return name
        return self.node("Cast", [name], to=onnx_dtype(dst))

    def reduce(self, op_type: str, x: str, axes: Any, keepdims: bool) -> str:
        """A Reduce* node over ``axes`` (None: all), written for the pinned opset."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        axes = [int(a) for a in (axes if isinstance(axes, tuple | list) else (axes,))]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def unsqueeze(self, x: str, axes: Any) -> str:
        """Insert size-1 axes."""
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x: str, axes: Any) -> str:
        """Remove size-1 axes."""
        return self.node("Squeeze", [x, self.ints(axes)])

    def slice(self, x: str, starts: Any, ends: Any, axes: Any, steps: Any = None) -> str:
        """A Slice node with constant bounds."""
        ins = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            ins.append(self.ints(steps))
        return self.node("Slice", ins)

    def shape_dims(self, x: str, axes: Any) -> str:
        """The runtime sizes of ``axes`` of ``x`` as an int64 1-D tensor."""
        shape = self.node("Shape", [x])
        return self.node("Gather", [shape, self.ints(axes)], axis=0)
