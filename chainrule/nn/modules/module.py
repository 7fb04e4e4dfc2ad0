"""``Module``: the base class of every layer, with PyTorch's registration and state_dict rules.

Parameters, buffers and submodules are registered by plain attribute assignment
(``self.fc = Linear(…)``), exactly as in torch, because that is what makes ``state_dict`` keys
(``fc.weight``, ``bn.running_mean`` …) identical to torch's. ``__setattr__`` routes a value into
``_parameters`` / ``_buffers`` / ``_modules``; ``__getattr__`` (only called when normal lookup
fails) reads them back; ``__delattr__`` removes them.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ... import _dtype
from ..._device import device as _device
from ..._tensor import Tensor, _make
from ...autograd.grad_mode import no_grad
from ..parameter import Buffer, Parameter

__all__ = ["Module", "RemovableHandle"]


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_*_hook``: ``remove()`` (or leaving a ``with`` block) unregisters."""

    _next_id = itertools.count()

    def __init__(self, *dicts: dict) -> None:
        self.id = next(RemovableHandle._next_id)
        self._dicts = dicts

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    # Indent every line but the first, so nested reprs line up under "(name): ".
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _size_str(shape: tuple) -> str:
    return f"torch.Size({list(shape)})"


def _as_source_array(value: Any) -> np.ndarray:
    """The ndarray inside a state_dict value: a Tensor, an ndarray or a torch tensor."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, np.ndarray):
        return value
    detach = getattr(value, "detach", None)
    if detach is not None:  # a torch tensor: its CPU storage as an ndarray
        value = detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        if hasattr(value, "numpy"):
            return value.numpy()
    return np.asarray(value)


class Module:
    """Base class for all layers and models (PyTorch's ``nn.Module``).

    Subclasses call ``super().__init__()`` first, assign parameters / buffers / submodules as
    attributes, and define ``forward``. Calling the module runs pre-hooks, ``forward`` and hooks.

    Example:
        >>> class MLP(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x)
    """

    training: bool
    _version: int = 1
    dump_patches: bool = False
    call_super_init: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected argument "
                f"(Module.__init__ takes no arguments): args={args}, kwargs={list(kwargs)}"
            )
        # object.__setattr__: our own __setattr__ needs these dicts to exist first.
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", {})
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", {})
        setattr_(self, "_forward_hooks_always_called", {})
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())
        setattr_(self, "_state_dict_hooks", OrderedDict())
        setattr_(self, "_load_state_dict_post_hooks", OrderedDict())

    # ------------------------------------------------------------------ forward / call

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Fast path: no hooks, so no bookkeeping (small models are overhead-bound).
        if not (
            self._forward_pre_hooks
            or self._forward_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
        ):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {res}."
                        )
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        if self._backward_hooks or self._backward_pre_hooks:
            args = _BackwardHookState.wrap_inputs(self, args)
        called = set()
        try:
            result = self.forward(*args, **kwargs)
            for hid, hook in list(self._forward_hooks.items()):
                called.add(hid)
                if hid in self._forward_hooks_with_kwargs:
                    res = hook(self, args, kwargs, result)
                else:
                    res = hook(self, args, result)
                if res is not None:
                    result = res
        except Exception:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called and hid not in called:
                    try:
                        if hid in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:  # noqa: S110 - the original error matters more
                        pass
            raise
        if self._backward_hooks or self._backward_pre_hooks:
            result = _BackwardHookState.wrap_outputs(self, args, result)
        return result

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = self.__dict__.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as child module '{name}' "
                    "(torch.nn.Module or None expected)"
                )
            modules[name] = value
            return
        buffers = self.__dict__.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                    "(torch.nn.Buffer, torch.Tensor or None expected)"
                )
            if isinstance(value, Buffer):
                persistent = value.persistent
            else:
                persistent = name not in self._non_persistent_buffers_set
            if name not in buffers:
                self._forget(name, keep="_buffers")
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from the other registries (a new assignment may change its kind);
        the registry ``keep`` is left alone so a re-assigned entry keeps its position."""
        self.__dict__.pop(name, None)
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg != keep:
                self.__dict__[reg].pop(name, None)
        if keep != "_buffers":
            self.__dict__["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only reached when ordinary lookup fails: look in the three registries.
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        attrs = dir(type(self))
        keys = (
            attrs
            + list(self.__dict__)
            + list(self._parameters)
            + list(self._modules)
            + list(self._buffers)
        )
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def _check_new_name(self, name: Any, kind: str, registry: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name(name, "parameter", self._parameters)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_type_name(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                f"created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method."
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer (state that is not a parameter, such as running means).

        ``persistent=False`` keeps it out of ``state_dict()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        if isinstance(tensor, Buffer):
            tensor = _make(tensor._data)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (``None`` is a placeholder)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        self._check_new_name(name, "module", self._modules)
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of ``add_module``."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``''`` is ``self``)."""
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module) -> None:
        """Replace the submodule at dotted path ``target``."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent, _, name = target.rpartition(".")
        mod = self.get_submodule(parent)
        if not hasattr(mod, name) or not isinstance(getattr(mod, name), Module):
            raise AttributeError(f"{mod._get_name()} has no submodule `{name}`")
        setattr(mod, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``'fc.weight'``)."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (``'bn.running_mean'``)."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    # ------------------------------------------------------------------ traversal

    def _named_members(
        self, get: Callable, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        memo: set[int] = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, mod in mods:
            for k, v in get(mod):
                if v is None:
                    continue
                if remove_duplicate:
                    # Shared (tied) weights are reported once, under their first name.
                    if id(v) in memo:
                        continue
                    memo.add(id(v))
                yield (mod_prefix + ("." if mod_prefix else "") + k, v)

    def _all_parameters(self) -> list[Parameter]:
        """Every parameter once, in ``parameters()`` order, without building names (the hot
        path of ``zero_grad``)."""
        out: list[Parameter] = []
        seen_mods: set[int] = set()
        seen: set[int] = set()
        stack = [self]
        while stack:
            m = stack.pop()
            if id(m) in seen_mods:
                continue
            seen_mods.add(id(m))
            for p in m._parameters.values():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
            stack.extend(c for c in reversed(m._modules.values()) if c is not None)
        return out

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (of submodules too unless ``recurse=False``), each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs with dotted names as in ``state_dict``."""
        return self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """All buffers (persistent or not)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs with dotted names."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self) -> Iterator[Module]:
        """The direct submodules, each once."""
        for _, m in self.named_children():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct submodules, each once."""
        memo: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self) -> Iterator[Module]:
        """This module and all submodules, depth first, each once."""
        for _, m in self.named_modules():
            yield m

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``prefix``) and all submodules."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    # ------------------------------------------------------------------ modes and grads

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every submodule (returns ``self``)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: dropout off, batch norm uses running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradient recording on or off for every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad`` (to None by default, as torch does)."""
        for p in self._all_parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p._grad = None
            else:
                p.grad.grad_fn = None
                p.grad.requires_grad = False
                p.grad._data[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on ``self``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype / device

    def _apply_arrays(self, convert: Callable[[np.ndarray], np.ndarray]) -> Module:
        """Convert every parameter, gradient and buffer, keeping the same Tensor objects.

        Optimizers and user code hold these objects, so they are changed in place (torch's
        ``param.data = fn(param.data)``), never replaced.
        """
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                new = convert(p._data)
                if new is not p._data:
                    p._data = new
                    p._grad_buf = None
                    if p.grad is not None:
                        p.grad._data = convert(p.grad._data)
            for name, b in m._buffers.items():
                if b is not None:
                    new = convert(b._data)
                    if new is not b._data:
                        b._data = new
                    m._buffers[name] = b
        return self

    def _cast_floats(self, dtype: Any) -> Module:
        npd = _dtype.to_numpy_dtype(dtype)
        return self._apply_arrays(lambda a: a.astype(npd) if a.dtype.kind == "f" else a)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)``, ``to(device)``, ``to(tensor)`` or ``to(device, dtype)``: floating
        point parameters and buffers change dtype in place; the device must be the CPU."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() received an invalid combination of arguments: {list(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, _dtype.dtype):
                dtype = a
            elif isinstance(a, str | _device) or a is None:
                dev = a if a is not None else dev
            elif isinstance(a, bool):
                continue
            else:
                dtype = a
        if dev is not None:
            _device(dev)
        if dtype is not None:
            dt = _dtype.as_dtype(dtype) if hasattr(_dtype, "as_dtype") else dtype
            if _dtype.to_numpy_dtype(dt).kind not in "fc":
                raise TypeError(
                    "nn.Module.to only accepts floating point or complex dtypes, but got desired "
                    f"dtype={dt}"
                )
            self._cast_floats(dt)
        return self

    def float(self) -> Module:
        """Floating point parameters and buffers to float32."""
        return self._cast_floats(_dtype.float32)

    def double(self) -> Module:
        """Floating point parameters and buffers to float64."""
        return self._cast_floats(_dtype.float64)

    def half(self) -> Module:
        """Floating point parameters and buffers to float16 (compute still runs in float32)."""
        return self._cast_floats(_dtype.float16)

    def bfloat16(self) -> Module:
        """Floating point parameters and buffers to bfloat16 (stored as chainrule does)."""
        return self._cast_floats(_dtype.bfloat16)

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer to ``dst_type``."""
        npd = _dtype.to_numpy_dtype(dst_type)
        return self._apply_arrays(lambda a: a.astype(npd) if a.dtype != npd else a)

    def cpu(self) -> Module:
        """``self``: chainrule runs on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Raises: chainrule has no CUDA backend."""
        _device("cuda")
        return self

    def share_memory(self) -> Module:
        """No-op (NumPy arrays are already shareable by the process that owns them)."""
        return self

    # ------------------------------------------------------------------ state_dict

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(
        self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, in torch's key order.

        Values share storage with the module (detached unless ``keep_vars=True``).
        """
        if args:  # torch's deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        meta = getattr(destination, "_metadata", None)
        if meta is not None:
            meta[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        for hook in self._state_dict_hooks.values():
            res = hook(self, destination, prefix, {"version": self._version})
            if res is not None:
                destination = res
        return destination

    def _upgrade_state_dict(self, state_dict: dict, prefix: str, version: int | None) -> None:
        """Fill in keys an older checkpoint version lacks (BatchNorm overrides this)."""

    def _tensor_slots(self, prefix: str = "") -> list[tuple[str, Module, str, Tensor, bool]]:
        """``(key, module, local name, tensor, is_parameter)`` for every state_dict entry."""
        out = []
        for mprefix, m in self.named_modules(prefix=prefix, remove_duplicate=False):
            dot = mprefix + "." if mprefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out.append((dot + name, m, name, p, True))
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers_set:
                    out.append((dot + name, m, name, b, False))
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        Values may be chainrule tensors, NumPy arrays or torch tensors. Every problem (missing
        keys, unexpected keys, shape mismatches) is collected first and reported together in one
        ``RuntimeError``; on error nothing is changed. Returns ``(missing_keys,
        unexpected_keys)`` (both empty when ``strict=True`` succeeds).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)  # a copy: version upgrades below add keys to it
        for mprefix, m in self.named_modules(remove_duplicate=False):
            version = None
            if metadata is not None:
                version = metadata.get(mprefix, {}).get("version")
            m._upgrade_state_dict(state_dict, mprefix + "." if mprefix else "", version)
        slots = self._tensor_slots()
        expected = {key for key, *_ in slots}
        missing = [key for key, *_ in slots if key not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        errors = []
        plans = []
        for key, m, name, t, is_param in slots:
            if key not in state_dict:
                continue
            try:
                src = _as_source_array(state_dict[key])
            except Exception as e:
                errors.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model '
                    f"are {_size_str(t.shape)}, an exception occurred : {e}."
                )
                continue
            # torch accepts a 1-element 1-d value for a 0-d tensor (old checkpoints).
            if t._data.ndim == 0 and src.ndim == 1 and src.shape[0] == 1:
                src = src.reshape(())
            if src.shape != t._data.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {_size_str(src.shape)} "
                    f"from checkpoint, the shape in current model is {_size_str(t._data.shape)}."
                )
                continue
            plans.append((m, name, t, is_param, src))
        if strict:
            if unexpected:
                errors.insert(
                    0,
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ". ",
                )
            if missing:
                errors.insert(
                    0,
                    "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ",
                )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors)
            )
        with no_grad():
            for m, name, t, is_param, src in plans:
                if assign:
                    arr = np.array(src, copy=True)
                    if is_param:
                        new = Parameter(arr, requires_grad=t.requires_grad)
                        m._parameters[name] = new
                    else:
                        m._buffers[name] = _make(arr)
                else:
                    # Copy INTO the existing array: optimizer state and flat-buffer views that
                    # alias it stay valid.
                    np.copyto(t._data, src, casting="unsafe")
                    t._vc[0] += 1
        result = _IncompatibleKeys(missing, unexpected)
        for hook in self._load_state_dict_post_hooks.values():
            hook(self, result)
        return result

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict()``."""
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    _register_state_dict_hook = register_state_dict_post_hook

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` after ``load_state_dict``."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ hooks

    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """``hook(module, args)`` (or ``(module, args, kwargs)``) before ``forward``.

        It may return new args (a tuple or a single value) to replace the inputs.
        """
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(
        self,
        hook: Callable,
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """``hook(module, args, output)`` after ``forward``; a non-None return replaces output."""
        handle = RemovableHandle(
            self._forward_hooks,
            self._forward_hooks_with_kwargs,
            self._forward_hooks_always_called,
        )
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` when the gradients w.r.t. the module's
        tensor inputs are computed; a non-None return replaces ``grad_input``."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(
        self, hook: Callable, prepend: bool = False
    ) -> RemovableHandle:
        """``hook(module, grad_output)`` before the module's input gradients are computed; a
        non-None return replaces ``grad_output``."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    # ------------------------------------------------------------------ repr

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The configuration shown inside ``Name(...)`` in ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        # Pickles of older versions may lack newer hook dicts.
        for key in (
            "_forward_pre_hooks_with_kwargs",
            "_forward_hooks_with_kwargs",
            "_forward_hooks_always_called",
        ):
            self.__dict__.setdefault(key, {})
        for key in (
            "_backward_pre_hooks",
            "_state_dict_hooks",
            "_load_state_dict_post_hooks",
        ):
            self.__dict__.setdefault(key, OrderedDict())


def _type_name(value: Any) -> str:
    if isinstance(value, Tensor):
        return value.type()
    return type(value).__name__


class _BackwardHookState:
    """Full backward hooks: inputs and outputs pass through identity nodes whose VJPs see the
    gradients flowing out of and into the module (torch's BackwardHook, in two small ops)."""

    @staticmethod
    def wrap_inputs(module: Module, args: tuple) -> tuple:
        from ...ops.nn.misc import identity_hook

        if not module._backward_hooks:
            return args
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not any(t.requires_grad for t in tensors):
            return args
        box: dict = {"module": module, "grad_output": None}
        outs = identity_hook(*tensors, hook=_InputGradHook(box, len(tensors)))
        outs = outs if isinstance(outs, tuple) else (outs,)
        new = list(args)
        for i, o in zip(idx, outs, strict=True):
            new[i] = o
        module.__dict__["_bw_box"] = box
        return tuple(new)

    @staticmethod
    def wrap_outputs(module: Module, args: tuple, result: Any) -> Any:
        from ...ops.nn.misc import identity_hook

        box = module.__dict__.pop("_bw_box", None)
        if box is None:
            box = {"module": module, "grad_output": None, "no_inputs": True}
        single = isinstance(result, Tensor)
        outs = (result,) if single else result
        if not isinstance(outs, tuple) or not any(
            isinstance(o, Tensor) and o.requires_grad for o in outs
        ):
            return result
        idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
        wrapped = identity_hook(*[outs[i] for i in idx], hook=_OutputGradHook(box, len(idx)))
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        new = list(outs)
        for i, o in zip(idx, wrapped, strict=True):
            new[i] = o
        return new[0] if single else tuple(new)


class _OutputGradHook:
    """Sees the gradients w.r.t. the module's outputs (runs the backward pre-hooks)."""

    def __init__(self, box: dict, n: int) -> None:
        self.box = box
        self.n = n

    def __call__(self, grads: tuple) -> tuple:
        module = self.box["module"]
        gout = tuple(None if g is None else _make(g) for g in grads)
        for hook in list(module._backward_pre_hooks.values()):
            res = hook(module, gout)
            if res is not None:
                gout = tuple(res) if isinstance(res, tuple | list) else (res,)
        self.box["grad_output"] = gout
        if self.box.get("no_inputs"):
            # No tensor input requires grad: the hooks run now with grad_input all None.
            for hook in list(module._backward_hooks.values()):
                hook(module, (None,), gout)
        return tuple(None if g is None else np.asarray(g._data) for g in gout)


class _InputGradHook:
    """Sees the gradients w.r.t. the module's inputs (runs the full backward hooks)."""

    def __init__(self, box: dict, n: int) -> None:
        self.box = box
        self.n = n

    def __call__(self, grads: tuple) -> tuple:
        module = self.box["module"]
        gin = tuple(None if g is None else _make(g) for g in grads)
        gout = self.box["grad_output"]
        for hook in list(module._backward_hooks.values()):
            res = hook(module, gin, gout)
            if res is not None:
                gin = tuple(res) if isinstance(res, tuple | list) else (res,)
        return tuple(None if g is None else np.asarray(g._data) for g in gin)
