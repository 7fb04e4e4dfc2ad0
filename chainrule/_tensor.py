"""``Tensor``: an ndarray plus what autograd needs. No math here: operators delegate to ``_api``.

Slots keep the per-op cost down (small models are overhead-bound). ``_data`` is the ndarray;
``data`` is PyTorch's detached view of it. ``_vc`` is a version counter shared with views, so an
in-place change of a value that backward still needs is caught instead of silently giving a
wrong gradient.
"""

from __future__ import annotations

import builtins
import warnings
from typing import Any

import numpy as np

from . import _dtype
from . import autograd as _autograd
from ._device import CPU, device
from .autograd import engine
from .autograd.grad_mode import state
from .ops import _registry

__all__ = ["Tensor", "tensor", "from_numpy", "as_tensor", "as_array"]

_NO_GRAD_INT = "Only Tensors of floating point and complex dtype can require gradients (got {})"
_LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."


class Tensor:
    """An n-dimensional array that records the ops applied to it for backpropagation.

    Made with ``chainrule.tensor(data)`` or the factories (``zeros``, ``randn`` …);
    ``Tensor(ndarray)`` wraps an array without copying, ``Tensor(2, 3)`` makes a float32 tensor
    of that shape and ``Tensor([1, 2])`` a float32 tensor of those values, as in PyTorch.
    """

    __slots__ = (
        "_data",
        "_grad",  # behind the validating ``grad`` property; autograd writes it directly
        "requires_grad",
        "grad_fn",
        "_out_idx",
        "_vc",
        "_hooks",
        "_grad_buf",
        "_vbase",  # (base, index) for a basic-index view, read with getattr (unset elsewhere)
        # True on views (transpose, expand, slices …) whose NumPy strides are the ones torch's
        # view would have, so .view()/.is_contiguous() follow torch's stride rule for them;
        # read with getattr (unset elsewhere: NumPy layouts of other results, e.g. a conv's
        # channels-last output, are not torch's, so those stay viewable as torch's are)
        "_torch_strides",
        "__weakref__",
    )
    # Make ndarray ⊕ Tensor call Tensor's reflected operators instead of NumPy's.
    __array_priority__ = 1000

    def __init__(self, *args: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if len(args) == 1 and type(args[0]) is np.ndarray:
            data = args[0] if dtype is None else args[0].astype(_dtype.to_numpy_dtype(dtype))
        elif not args:
            data = np.zeros((0,), np.float32)
        elif builtins.all(isinstance(a, int | np.integer) for a in args):
            data = np.zeros(tuple(int(a) for a in args), np.float32)
        elif (
            len(args) == 1
            and isinstance(args[0], tuple)
            and builtins.all(isinstance(a, int) for a in args[0])
        ):
            data = np.zeros(args[0], np.float32)
        else:
            data = _to_array(args[0], dtype or _dtype.float32)
        self._data = data
        self._grad: Tensor | None = None
        self.requires_grad = False
        self.grad_fn: engine.Node | None = None
        self._out_idx = 0
        self._vc = [0]
        self._hooks: list | None = None
        self._grad_buf: np.ndarray | None = None
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ attributes

    @property
    def data(self) -> Tensor:
        """The same storage, detached from the graph (PyTorch's ``.data``)."""
        return _make(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension (a ``Size``, like torch's)."""
        return _new_tuple(Size, self._data.shape)

    @property
    def dtype(self) -> _dtype.dtype:
        """The element type (``chainrule.float32`` …)."""
        return _dtype._FROM_NP[self._data.dtype]

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    @property
    def device(self) -> device:
        """Always the CPU."""
        return CPU

    @property
    def _version(self) -> builtins.int:
        """How many in-place changes this tensor's storage has seen (torch's ``_version``)."""
        return self._vc[0]

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (user-made tensors, parameters)."""
        return self.grad_fn is None

    @property
    def is_cuda(self) -> bool:
        """Always False."""
        return False

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """All dims reversed."""
        return self.permute(tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two dims swapped."""
        return self.transpose(-2, -1)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def is_floating_point_(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_floating_point(self) -> bool:
        """True for float16/32/64 tensors."""
        return self._data.dtype.kind == "f"

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dim."""
        if dim is None:
            return _new_tuple(Size, self._data.shape)
        from ._api import _dim

        return self._data.shape[_dim(dim, self.ndim, "size")]

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        """Number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def get_device(self) -> int:
        """-1: the CPU."""
        return -1

    # ------------------------------------------------------------ conversion

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The ndarray behind this tensor (shared memory)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self._data
        if dtype is not None and out.dtype != dtype:
            out = out.astype(dtype)
        return out.copy() if copy else out

    def item(self) -> Any:
        """The single value as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        """Nested Python lists (a number for a 0-d tensor)."""
        return self._data.tolist()

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(other)`` or ``to(device, dtype)``."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, _dtype.dtype) or (isinstance(a, type) and issubclass(a, np.generic)):
                dtype = a
            elif isinstance(a, str | device):
                dev = a
            elif a is None:
                continue
            else:
                dtype = a
        if dev is not None:
            device(dev)
        if dtype is None:
            return self.clone() if copy else self
        npd = _dtype.to_numpy_dtype(dtype)
        if npd == self._data.dtype:
            return self.clone() if copy else self
        return _cast(self, npd)

    def type(self, dtype: Any = None) -> Any:
        """``type()`` names the type; ``type(dtype)`` converts."""
        if dtype is None:
            return f"torch.{_dtype.SCALAR_NAMES[self.dtype.name]}Tensor"
        if isinstance(dtype, str):
            dtype = _TYPE_NAMES.get(dtype.removeprefix("torch.").removeprefix("chainrule."), dtype)
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        """Convert to ``other``'s dtype."""
        return self.to(other.dtype)

    def float(self) -> Tensor:
        """Convert to float32."""
        return self.to(_dtype.float32)

    def double(self) -> Tensor:
        """Convert to float64."""
        return self.to(_dtype.float64)

    def half(self) -> Tensor:
        """Convert to float16 (storage only: ops compute in float32)."""
        return self.to(_dtype.float16)

    def long(self) -> Tensor:
        """Convert to int64."""
        return self.to(_dtype.int64)

    def int(self) -> Tensor:
        """Convert to int32."""
        return self.to(_dtype.int32)

    def short(self) -> Tensor:
        """Convert to int16."""
        return self.to(_dtype.int16)

    def byte(self) -> Tensor:
        """Convert to uint8."""
        return self.to(_dtype.uint8)

    def bool(self) -> Tensor:
        """Convert to bool."""
        return self.to(_dtype.bool)

    def cpu(self) -> Tensor:
        """``self``: chainrule tensors live on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Raises: chainrule has no CUDA backend."""
        device("cuda")
        return self

    def new_tensor(
        self, data: Any, dtype: Any = None, requires_grad: bool = False, **_: Any
    ) -> Tensor:
        """A new tensor from ``data`` with this tensor's dtype by default."""
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(
        self, *size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any
    ) -> Tensor:
        """Zeros of ``size`` with this tensor's dtype by default."""
        from ._api import zeros

        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(
        self, *size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any
    ) -> Tensor:
        """Ones of ``size`` with this tensor's dtype by default."""
        from ._api import ones

        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(
        self, size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, **_: Any
    ) -> Tensor:
        """``fill_value`` everywhere, with this tensor's dtype by default."""
        from ._api import full

        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_empty(
        self, *size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any
    ) -> Tensor:
        """An uninitialised (zero-filled) tensor with this tensor's dtype by default."""
        return self.new_zeros(*size, dtype=dtype, requires_grad=requires_grad)

    # ------------------------------------------------------------ autograd

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward()`` (None until then), as in PyTorch."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # autograd and the optimizers write ``_grad`` directly; this checks what users assign
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    "assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            got, want = value._data, self._data
            if got.shape != want.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(got.shape)}' to a tensor of "
                    f"size '{list(want.shape)}'. Please ensure that the gradient and the tensor "
                    "are the same size"
                )
            if got.dtype != want.dtype:
                raise RuntimeError(
                    "attempting to assign a gradient with dtype "
                    f"'{_dtype.C_NAMES.get(got.dtype.name, got.dtype.name)}' to a tensor with "
                    f"grad_dtype '{_dtype.SCALAR_NAMES.get(want.dtype.name, want.dtype.name)}'. "
                    "The gradient must match the tensor's grad_dtype (defaults to the tensor's "
                    "dtype)."
                )
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Turn gradient recording for this leaf on or off."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(_NO_GRAD_INT.format(self.dtype))
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def backward(
        self,
        gradient: Any = None,
        retain_graph: builtins.bool | None = None,
        create_graph: builtins.bool = False,
        inputs: Any = None,
    ) -> None:
        """Backpropagate from this tensor, accumulating into the ``.grad`` of leaves."""
        data = self._data
        if inputs is None and not create_graph and self.grad_fn is not None:
            # Fast path for the usual loss.backward() / y.backward(g): no list handling.
            if gradient is None and data.size == 1:
                # np.array(1, dtype) is 5x cheaper than np.ones; the engine may keep it as a .grad
                one = np.array(1, data.dtype)
                engine.run_backward(
                    (self,),
                    (one if data.ndim == 0 else one.reshape(data.shape),),
                    bool(retain_graph),
                )
                return
            if type(gradient) is Tensor and gradient._data.shape == data.shape:
                # a copy: the engine may hand the root gradient to a leaf as its .grad
                g = gradient._data.astype(data.dtype, copy=True)
                engine.run_backward((self,), (g,), bool(retain_graph))
                return
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook: Any) -> Any:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self.grad_fn
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = self.grad_fn
        if node is None:
            return
        if node.retained is None:
            node.retained = {}
        node.retained[self._out_idx] = engine.retain_ref(self)

    @property
    def retains_grad(self) -> builtins.bool:
        """True if ``retain_grad()`` was called on this non-leaf tensor."""
        node = self.grad_fn
        return node is not None and node.retained is not None and self._out_idx in node.retained

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place."""
        self.grad_fn = None
        self.requires_grad = False
        return self

    # ------------------------------------------------------------ python protocol

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        if not self.requires_grad:
            return iter([_view(self, self._data[i]) for i in range(self._data.shape[0])])
        return iter(self.unbind(0))

    def __bool__(self) -> builtins.bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
                if self._data.size
                else "Boolean value of Tensor with no values is ambiguous"
            )
        return builtins.bool(self._data.reshape(()).item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return builtins.int(self.item())

    def __index__(self) -> builtins.int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __hash__(self) -> builtins.int:
        return id(self)

    def __repr__(self) -> str:
        from ._format import tensor_repr

        return tensor_repr(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Plain copying (copy.deepcopy, multiprocessing) works; checkpoints never pickle.
        return (_rebuild, (self._data, self.requires_grad))

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment."
            )
        out = type(self).__new__(type(self))
        Tensor.__init__(out, self._data.copy())
        out.requires_grad = self.requires_grad
        if self.grad is not None:
            out.grad = Tensor(self.grad._data.copy())
        memo[id(self)] = out
        return out

    # ------------------------------------------------------------ indexing

    def __getitem__(self, key: Any) -> Tensor:
        idx = _index(key, self)
        split = _split_ints(idx)
        if split is not None:  # torch selects the int dims first, then indexes the rest
            return self[split[0]][split[1]]
        if (self.requires_grad and state.enabled) or _registry._tracer is not None:
            out = _registry_getitem(self, index=idx)
            if out._data.base is not None and not _is_advanced(idx):
                out._vbase = (self, idx)
                mark_torch_strides(out, self)
            return out
        out = self._data[idx]
        if isinstance(out, np.ndarray) and out.base is not None and not _is_advanced(idx):
            out = _view(self, out, idx)
            mark_torch_strides(out, self)
            return out
        return _make(np.asarray(out) if type(out) is not np.ndarray else out)

    def __setitem__(self, key: Any, value: Any) -> None:
        idx = _index(key, self)
        split = _split_ints(idx)
        if split is not None:
            self[split[0]][split[1]] = value  # the view's write reaches self (and its graph)
            return
        val = value
        tracking = state.enabled and (
            self.requires_grad or (isinstance(val, Tensor) and val.requires_grad)
        )
        if isinstance(val, Tensor):
            vdt = val._data.dtype
        else:
            val = np.asarray(val)
            vdt = val.dtype if val.ndim else _dtype.result_type(self._data, value)
        _check_cast(vdt, self._data.dtype, "setitem")
        try:
            target_shape = np.empty(self._data.shape, dtype=np.bool_)[idx].shape
            extra = np.ndim(val) - len(target_shape)
            if extra > 0 and builtins.all(n == 1 for n in np.shape(val)[:extra]):
                # why: torch drops leading size-1 dims of the value (x[0, :, 0] = row[None])
                val = val.reshape(np.shape(val)[extra:])
            np.broadcast_to(np.empty(np.shape(val), dtype=np.bool_), target_shape)
        except ValueError:
            raise RuntimeError(
                f"setitem: a value of shape {tuple(np.shape(val))} cannot be written into a slice "
                f"of shape {tuple(target_shape)}"
            ) from None
        if tracking:
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(_LEAF_INPLACE)
            _check_view_of_leaf(self)
            _protect_saved(self)
            from .ops.indexing import index_put

            snap = _snapshot(self)
            v = val if isinstance(val, Tensor) else val.astype(self._data.dtype)
            if isinstance(v, Tensor) and v._data.dtype != self._data.dtype:
                v = v.to(self.dtype)
            _rebase(self, index_put(snap, v, index=idx))
            _propagate_to_base(self)
            return
        self._data[idx] = val._data if isinstance(val, Tensor) else val
        self._vc[0] += 1

    # ------------------------------------------------------------ in-place

    def _inplace(self, fn: Any, *others: Any) -> Tensor:
        """Run ``fn(self, *others)`` out of place, then write the result into this tensor."""
        tracking = state.enabled and (
            self.requires_grad
            or builtins.any(isinstance(o, Tensor) and o.requires_grad for o in others)
        )
        if tracking:
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(_LEAF_INPLACE)
            _check_view_of_leaf(self)
            _protect_saved(self)
            r = fn(_snapshot(self), *others)
            _check_cast(r._data.dtype, self._data.dtype, fn.__name__)
            if r._data.dtype != self._data.dtype:
                r = r.to(self.dtype)
            _rebase(self, r)
            _propagate_to_base(self)
            return self
        from .autograd.grad_mode import no_grad

        with no_grad():
            r = fn(self, *others)
        _check_cast(r._data.dtype, self._data.dtype, fn.__name__)
        if r._data.shape != self._data.shape:
            raise RuntimeError(
                f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                f"{list(r._data.shape)}"
            )
        np.copyto(self._data, r._data, casting="unsafe")
        self._vc[0] += 1
        return self

    def _fill(self, values: np.ndarray) -> Tensor:
        """Overwrite every element (fill_, uniform_ …): allowed under no_grad even on parameters."""
        if state.enabled and self.requires_grad:
            if self.grad_fn is None:
                raise RuntimeError(_LEAF_INPLACE)
            # torch keeps a non-leaf in the graph (y.zero_(); y.sum().backward() works): the new
            # values are constants, so what came before gets a zero gradient
            from .ops.elementwise import where

            _check_view_of_leaf(self)
            _protect_saved(self)
            new = np.empty_like(self._data)
            np.copyto(new, values, casting="unsafe")
            keep = np.ones(self._data.shape, dtype=np.bool_)
            _rebase(self, where(new, _snapshot(self), cond=keep))
            _propagate_to_base(self)
            return self
        np.copyto(self._data, values, casting="unsafe")
        self._vc[0] += 1
        return self


class _RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Any) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        """Unregister the hook."""
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


_TYPE_NAMES = {
    "FloatTensor": _dtype.float32,
    "DoubleTensor": _dtype.float64,
    "HalfTensor": _dtype.float16,
    "LongTensor": _dtype.int64,
    "IntTensor": _dtype.int32,
    "BoolTensor": _dtype.bool,
    "ByteTensor": _dtype.uint8,
}


class Size(tuple):
    """A shape (``torch.Size``): a tuple of ints with ``numel()``, printed as torch prints it."""

    __slots__ = ()

    def numel(self) -> builtins.int:
        """Product of the sizes."""
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    # slices, concatenations and repeats of a Size are Sizes, as in torch
    def __getitem__(self, key: Any) -> Any:
        r = tuple.__getitem__(self, key)
        return _new_tuple(Size, r) if type(key) is slice else r

    def __add__(self, other: Any) -> Size:
        return _new_tuple(Size, tuple.__add__(self, other))

    def __radd__(self, other: Any) -> Any:
        if not isinstance(other, tuple):
            return NotImplemented
        return _new_tuple(Size, tuple.__add__(other, self))

    def __mul__(self, n: Any) -> Size:
        return _new_tuple(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__


_new_tuple = tuple.__new__


def _rebuild(data: np.ndarray, requires_grad: builtins.bool) -> Tensor:
    t = Tensor(data)
    t.requires_grad = requires_grad
    return t


def _make(data: np.ndarray, node: engine.Node | None = None, idx: builtins.int = 0) -> Tensor:
    """The fast constructor every op uses (no argument parsing)."""
    t = object.__new__(Tensor)
    t._data = data
    t._grad = None
    t.requires_grad = node is not None
    t.grad_fn = node
    t._out_idx = idx
    t._vc = [0]
    t._hooks = None
    t._grad_buf = None
    return t


def _view(base: Tensor, data: np.ndarray, idx: Any = None) -> Tensor:
    out = _make(data)
    out._vc = base._vc
    if idx is not None:
        out._vbase = (base, idx)
    return out


def mark_torch_strides(out: Tensor, base: Tensor) -> None:
    """Record that ``out``, a strided view of ``base``, has torch's strides: true when
    ``base``'s own layout is torch's (C-contiguous, or itself such a view)."""
    if base._data.flags.c_contiguous or getattr(base, "_torch_strides", False):
        out._torch_strides = True


def _check_view_of_leaf(t: Tensor) -> None:
    vb = getattr(t, "_vbase", None)
    while vb is not None:
        base = vb[0]
        if base.requires_grad and base.grad_fn is None and state.enabled:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place "
                "operation."
            )
        vb = getattr(base, "_vbase", None)


def _protect_saved(t: Tensor) -> None:
    """Before ``t``'s memory is overwritten in place, give the VJPs that captured it (the node
    that produced ``t`` or one of its bases: exp, sigmoid, div … keep their output) a private
    copy, so their gradients stay right instead of silently using the new values."""
    data = t._data
    x: Tensor | None = t
    while x is not None:
        vb = getattr(x, "_vbase", None)
        node = x.grad_fn
        if (
            vb is not None
            and node is not None
            and getattr(node.opdef, "name", None) == "getitem"
            and len(node.inputs) == 1
            and node.inputs[0] is vb[0]
        ):
            # why: the engine routes through an input's *current* grad_fn; the base is
            # about to be rebased, so the view's getitem must keep the base's old place
            b = vb[0]
            alias = _make(b._data, b.grad_fn, b._out_idx)
            alias.requires_grad = b.requires_grad
            alias._vc = [node.versions[0]]  # the base as the getitem saw it
            node.inputs = (alias,)
        node = x.grad_fn
        cells = getattr(getattr(node, "vjp", None), "__closure__", None) or ()
        for cell in cells:
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if type(v) is np.ndarray and np.may_share_memory(v, data):
                cell.cell_contents = v.copy()
        vb = getattr(x, "_vbase", None)
        x = vb[0] if vb is not None else None


def _propagate_to_base(t: Tensor) -> None:
    """A tracked in-place op on a view also changed its base: give the base the new graph
    (torch's CopySlices), else the base's gradient would miss the op (silently wrong)."""
    vb = getattr(t, "_vbase", None)
    if vb is None:
        return
    from .ops.indexing import index_put

    while vb is not None:
        base, idx = vb
        _rebase(base, index_put(_snapshot(base), t, index=idx))
        if base._vc is t._vc:  # a shared counter: one in-place op is one version
            base._vc[0] -= 1
        t, vb = base, getattr(base, "_vbase", None)


def _snapshot(t: Tensor) -> Tensor:
    """A copy of ``t`` that keeps its place in the graph (the input side of an in-place op)."""
    snap = _make(t._data.copy(), t.grad_fn, t._out_idx)
    snap.requires_grad = t.requires_grad
    return snap


def _rebase(t: Tensor, result: Tensor) -> None:
    """Make ``t`` hold ``result``'s values (in its own storage) and its graph position."""
    np.copyto(t._data, result._data, casting="unsafe")
    t.grad_fn = result.grad_fn
    t._out_idx = result._out_idx
    t.requires_grad = result.requires_grad
    if result.grad_fn is not None and result.grad_fn.retained:
        pass
    t._vc[0] += 1
    # Ops after this one must see ``t`` (not the temporary) as the node's output.
    result.grad_fn = None


def _check_cast(src: np.dtype, dst: np.dtype, op: str) -> None:
    if not np.can_cast(src, dst, casting="same_kind") and not (
        src.kind == dst.kind or (src.kind in "biu" and dst.kind == "f")
    ):
        raise RuntimeError(
            f"{op}: result type {_dtype.from_numpy_dtype(src)} can't be cast to the desired "
            f"output type {_dtype.from_numpy_dtype(dst)}"
        )


def _cast(t: Tensor, npd: np.dtype) -> Tensor:
    from .ops.elementwise import _cast_op

    return _cast_op(t, dtype=npd)


def _is_advanced(idx: Any) -> builtins.bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return builtins.any(isinstance(i, np.ndarray) for i in items)


_SEQUENCE_INDEX_WARNING = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed "
    "in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error or "
    "a different result"
)


def _sequence_as_tuple(key: list) -> builtins.bool:
    """torch's (and old NumPy's) rule: a short list holding a sequence, slice, tensor, None or
    ``...`` is a tuple of indices (x[[[0, 1]]] is x[[0, 1]]), with a deprecation warning."""
    if len(key) >= 32:
        return False
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, Tensor | list | tuple | slice | np.ndarray):
            return True
    return False


def _one_ellipsis(idx: tuple, ndim: builtins.int) -> tuple:
    """torch accepts several ``...``: the first takes the unindexed dims, later ones none
    (an index after them then addresses a dim past the end)."""
    consuming = [i for i in idx if i is not None and i is not Ellipsis]
    rest = ndim - builtins.sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
                               for i in consuming)  # fmt: skip
    first = next(k for k, i in enumerate(idx) if i is Ellipsis)
    second = next(k for k, i in enumerate(idx) if i is Ellipsis and k > first)
    if rest > 0 and builtins.any(i is not None and i is not Ellipsis for i in idx[second:]):
        raise IndexError(
            f"index is out of bounds: the indices after the second '...' address dimensions "
            f"past the last of a {ndim}-d tensor"
        )
    return idx[: first + 1] + tuple(i for i in idx[first + 1 :] if i is not Ellipsis)


def _index(key: Any, t: Tensor) -> Any:
    """Turn a PyTorch index (tensors, lists, floats …) into a NumPy one, with torch's errors."""
    if type(key) is list and _sequence_as_tuple(key):
        warnings.warn(_SEQUENCE_INDEX_WARNING, UserWarning, stacklevel=3)
        key = tuple(key)
    if isinstance(key, tuple):
        idx = tuple(_index_item(k) for k in key)
        if builtins.sum(1 for i in idx if i is Ellipsis) > 1:
            idx = _one_ellipsis(idx, t.ndim)
        if idx and builtins.all(type(i) is builtins.int for i in idx):
            return idx + (Ellipsis,)  # why: NumPy returns a copied scalar, torch a 0-d view
        return idx
    idx = _index_item(key)
    return (idx, Ellipsis) if type(idx) is builtins.int else idx


def _index_item(k: Any) -> Any:
    if k is None or k is Ellipsis or isinstance(k, slice):
        if isinstance(k, slice):
            if not (_plain(k.start) and _plain(k.stop) and _plain(k.step)):
                k = slice(*(_slice_int(v) for v in (k.start, k.stop, k.step)))
            if k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")  # torch has no reversed views
            return k
        return k
    if isinstance(k, builtins.bool):
        return k
    if isinstance(k, int | np.integer):
        return builtins.int(k)
    if isinstance(k, Tensor):
        arr = k._data
    elif isinstance(k, float | np.floating):
        raise IndexError(
            f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
            f"valid indices (got {type(k).__name__})"
        )
    else:
        arr = np.asarray(k)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind not in "iu":
        raise IndexError(
            f"tensors used as indices must be long, int, byte or bool tensors, got {arr.dtype}"
        )
    if arr.ndim == 0:
        return builtins.int(arr)
    return arr.astype(np.intp, copy=False)


def _split_ints(idx: Any) -> tuple | None:
    """For an index mixing ints with index arrays, (int selections, the rest): torch applies
    ints as selects before advanced indexing, so x[0, :, [1, 2]] is (3, 2), not NumPy's (2, 3)."""
    if type(idx) is not tuple or not builtins.any(type(i) is builtins.int for i in idx):
        return None
    if not builtins.any(isinstance(i, np.ndarray) for i in idx):
        return None
    first: list = []
    rest: list = []
    for i in idx:
        if type(i) is builtins.int:
            first.append(i)
        elif i is None:
            rest.append(i)
        elif i is Ellipsis:
            first.append(i)
            rest.append(i)
        else:
            n = i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
            first.extend([slice(None)] * n)
            rest.append(i)
    return tuple(first), tuple(rest)


def _plain(v: Any) -> builtins.bool:
    return v is None or type(v) is builtins.int


def _slice_int(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, Tensor):
        return builtins.int(v.item())
    if isinstance(v, float):
        raise TypeError("slice indices must be integers or None")
    return v


_getitem_ops: dict = {}


def _registry_getitem(t: Tensor, index: Any) -> Tensor:
    if not _getitem_ops:  # imported on first use: ops.indexing imports this module
        from .ops._registry import with_backward_name
        from .ops.indexing import getitem

        _getitem_ops["IndexBackward0"] = getitem
        for name in ("SelectBackward0", "SliceBackward0", "UnsqueezeBackward0", "AliasBackward0"):
            _getitem_ops[name] = with_backward_name(getitem, name)
    return _getitem_ops[_getitem_backward_name(index, t._data.shape)](t, index=index)


def _getitem_backward_name(idx: Any, shape: tuple) -> str:
    """torch's grad_fn for ``x[idx]``: torch applies the basic items left to right (select,
    slice, unsqueeze; full slices inside a tuple skipped) and advanced indexing last, so the
    name is that of the last op it applied (AliasBackward0 when none)."""
    if type(idx) is slice:
        return "SliceBackward0"  # a lone slice is always applied, even a full one
    if idx is None or idx is Ellipsis:
        idx = (idx,)
    if not isinstance(idx, tuple):
        return "IndexBackward0"
    name = "AliasBackward0"
    dim = 0
    for i in idx:
        if isinstance(i, np.ndarray) or type(i) is builtins.bool:
            return "IndexBackward0"
        if type(i) is builtins.int:
            name = "SelectBackward0"
            dim += 1
        elif i is None:
            name = "UnsqueezeBackward0"
        elif i is Ellipsis:
            dim += len(shape) - builtins.sum(1 for j in idx if j is not None and j is not Ellipsis)
        else:
            n = shape[dim] if dim < len(shape) else 0
            if i.indices(n) != (0, n, 1):
                name = "SliceBackward0"
            dim += 1
    return name


def _to_array(data: Any, default_float: Any = None) -> np.ndarray:
    """Convert Python data to an ndarray with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray):
        return data.copy()
    if (
        isinstance(data, list | tuple)
        and data
        and builtins.any(isinstance(x, Tensor) for x in _flat(data))
    ):
        data = _detensor(data)
    arr = np.array(data)
    if arr.dtype.kind == "f" and not isinstance(data, np.generic):
        arr = arr.astype(
            (default_float or _dtype.get_default_dtype()).np
            if not isinstance(default_float, _dtype.dtype)
            else default_float.np
        )
    elif arr.dtype.kind == "i" and not isinstance(data, np.generic):
        arr = arr.astype(np.int64)  # Python ints are int64; NumPy scalars keep their dtype
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"can't convert {type(data).__name__} of {arr.dtype} to a tensor")
    return arr


def _flat(data: Any) -> Any:
    for x in data:
        if isinstance(x, list | tuple):
            yield from _flat(x)
        else:
            yield x


def _detensor(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, list | tuple):
        return [_detensor(x) for x in data]
    return data


def as_array(x: Any) -> np.ndarray:
    """The ndarray behind a tensor, or ``np.asarray(x)``."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def tensor(
    data: Any,
    dtype: Any = None,
    requires_grad: builtins.bool = False,
    device: Any = None,
    pin_memory: builtins.bool = False,
) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, numbers, arrays or tensors).

    Python floats become float32 (the default dtype), ints int64, bools bool; NumPy arrays keep
    their dtype, as in PyTorch.
    """
    if device is not None:
        from ._device import device as _device

        _device(device)
    if dtype is not None:
        npd = _dtype.to_numpy_dtype(dtype)
        src = (
            data._data
            if isinstance(data, Tensor)
            else _detensor(data)
            if isinstance(data, list | tuple)
            else data
        )
        try:
            arr = np.array(src, dtype=npd)
        except (TypeError, ValueError) as e:
            raise TypeError(f"tensor(): can't convert the data to {dtype}: {e}") from None
    else:
        try:
            arr = _to_array(data)
        except ValueError as e:
            raise ValueError(f"tensor(): the data is not rectangular or not numeric: {e}") from None
    t = _make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the ndarray ``a`` (same dtype)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    _dtype.from_numpy_dtype(a.dtype)
    return _make(a)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Share memory with ``data`` where possible (ndarrays, tensors of the right dtype)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dtype.as_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (
        dtype is None or data.dtype == _dtype.to_numpy_dtype(dtype)
    ):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


_registry._Tensor = Tensor
_registry._make = _make
engine._make = _make
_autograd._Tensor = Tensor
