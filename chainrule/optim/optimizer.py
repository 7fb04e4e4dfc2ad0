"""``Optimizer``: parameter groups, per-parameter state, PyTorch's state_dict layout.

Speed: on its first use the optimizer moves each group's parameters (per dtype) into one
contiguous buffer (``p._data`` becomes a view; the Parameter objects keep their identity) and
gives every parameter a gradient view (``p._grad_buf``) that backward fills in place. State
arrays (``exp_avg`` …) are views into flat buffers too. When every parameter of a bucket has a
gradient and all are at the same step, the update is one call of the pure function in
``_functional`` on the flat arrays; otherwise it runs per parameter on the views, with the same
math. If anything replaced a parameter's array (``p.data = …``, ``module.double()``), the next
step notices (``p._data is not view``) and rebuilds the buffers, keeping the state.
Large buckets may be updated in two threads (two halves, bit-identical) when timing the first
steps shows that to be faster. If someone still holds last step's gradient when ``zero_grad``
runs (or backward starts), backward gets a fresh array instead, so held values never change.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from .._tensor import Tensor, _make
from ..autograd.grad_mode import enable_grad

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter that has no default (PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def check_non_negative(**values: Any) -> None:
    """Raise torch's ``ValueError("Invalid … value: x")`` for the first hyper-parameter, in
    argument order, that is negative or NaN (``lr`` and ``eps`` have torch's own wording). A
    tensor ``lr`` must have one element, as in torch."""
    for name, value in values.items():
        if name == "lr" and hasattr(value, "numel") and value.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not value >= 0.0:
            label = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {value}")


def _array(value: Any) -> np.ndarray:
    """An ndarray from a chainrule Tensor, a torch tensor, an array or a number."""
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


class _Bucket:
    """The parameters of one group with one dtype, as views into flat buffers."""

    __slots__ = (
        "params",
        "shapes",
        "slices",
        "flat",
        "pviews",
        "gflat",
        "gviews",
        "sflat",
        "sviews",
        "steps",
        "scalars",
        "scratch",
        "scratch_views",
        "uniform",
        "ready",
        "timings",
        "threaded",
        "since",
    )

    def __init__(self, params: list[Tensor], dtype: np.dtype) -> None:
        self.params = params
        self.shapes = [p._data.shape for p in params]
        self.slices: list[slice] = []
        o = 0
        for p in params:
            n = p._data.size
            self.slices.append(slice(o, o + n))
            o += n
        self.flat = np.empty(o, dtype)
        self.pviews = self._views(self.flat)
        for p, v in zip(params, self.pviews, strict=True):
            np.copyto(v, p._data, casting="unsafe")
            p._data = v
        self.gflat = np.zeros(o, dtype)
        self.gviews = self._views(self.gflat)
        for p, gv in zip(params, self.gviews, strict=True):
            p._grad_buf = gv
        self.sflat: dict[str, np.ndarray] = {}
        self.sviews: dict[str, list[np.ndarray]] = {}
        self.steps = np.zeros(len(params), np.float32)  # storage of the 'step' state tensors
        # Storage of other 0-d float32 state, one entry per parameter (NAdam's mu_product).
        self.scalars: dict[str, np.ndarray] = {}
        self.scratch = (np.empty(o, dtype), np.empty(o, dtype))
        tv = self._views(self.scratch[0])
        tv2 = self._views(self.scratch[1])
        self.scratch_views = list(zip(tv, tv2, strict=True))
        self.uniform = True
        self.ready: tuple[str, ...] | None = None  # state keys created for every parameter
        # Two threads help on an idle multi-core machine and hurt on a busy one: the first
        # large steps try both (alternating) and keep the faster; re-checked now and then.
        self.timings: list[tuple[bool, float]] = []
        self.threaded: bool | None = None
        self.since = 0

    def use_threads(self) -> bool:
        """Whether this step runs in two threads (alternating while calibrating)."""
        if self.threaded is None:
            return len(self.timings) % 2 == 0
        return self.threaded

    def record(self, threaded: bool, seconds: float) -> None:
        """Note a step's time; decide after 8 calibration steps, recalibrate every 1000."""
        if self.threaded is None:
            self.timings.append((threaded, seconds))
            if len(self.timings) >= 8:
                par = sorted(t for m, t in self.timings if m)
                one = sorted(t for m, t in self.timings if not m)
                self.threaded = par[len(par) // 2] < 0.9 * one[len(one) // 2]
                self.timings = []
                self.since = 0
            return
        self.since += 1
        if self.since >= 1000:
            self.threaded = None

    def _views(self, flat: np.ndarray) -> list[np.ndarray]:
        return [flat[s].reshape(sh) for s, sh in zip(self.slices, self.shapes, strict=True)]

    def state_key(self, key: str, fill: float) -> list[np.ndarray]:
        """The per-parameter views of state ``key``, allocating its flat buffer on first use."""
        views = self.sviews.get(key)
        if views is None:
            self.sflat[key] = np.full(self.flat.size, fill, self.flat.dtype)
            views = self.sviews[key] = self._views(self.sflat[key])
        return views

    def new_grad_buffer(self) -> None:
        """Give backward a fresh gradient buffer (someone still holds the old gradients)."""
        self.gflat = np.zeros(self.flat.size, self.flat.dtype)
        self.gviews = self._views(self.gflat)
        for p, gv in zip(self.params, self.gviews, strict=True):
            p._grad_buf = gv


# Buckets with at least this many elements update in two threads (below it the hand-off costs
# more than it saves).
_PARALLEL_MIN = 1 << 17
_POOL: dict[int, Any] = {}  # pid -> pool: a forked child (DataLoader worker) makes its own


def _pool() -> Any:
    """A one-worker thread pool (the caller's thread does the other half), or None on 1 CPU."""
    pid = os.getpid()
    if pid not in _POOL:
        if (os.cpu_count() or 1) < 2:
            _POOL[pid] = None
        else:
            from concurrent.futures import ThreadPoolExecutor

            _POOL[pid] = ThreadPoolExecutor(1, thread_name_prefix="chainrule-optim")
    return _POOL[pid]


def _with_step_hooks(step: Callable) -> Callable:
    """``step`` running the optimizer's step pre-hooks before and post-hooks after it (torch's
    ``register_step_pre_hook`` / ``register_step_post_hook``); a nested call (a subclass's step
    calling ``super().step``) runs them once."""

    def hooked(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        pre = self.__dict__.get("_step_pre_hooks")
        post = self.__dict__.get("_step_post_hooks")
        if (not pre and not post) or self.__dict__.get("_in_hooked_step"):
            return step(self, *args, **kwargs)
        args = (self, *args)  # torch's hooks see the optimizer as args[0] too
        for hook in list(pre.values()) if pre else ():
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        "optimizer step pre-hook must return None or a tuple of "
                        f"(new_args, new_kwargs), but got {result!r}"
                    )
                args, kwargs = result
        self._in_hooked_step = True
        try:
            out = step(*args, **kwargs)
        finally:
            self._in_hooked_step = False
        for hook in list(post.values()) if post else ():
            hook(self, args, kwargs)
        return out

    hooked.__name__ = step.__name__
    hooked.__qualname__ = step.__qualname__
    hooked.__doc__ = step.__doc__
    return hooked


class Optimizer:
    """Base class: holds ``param_groups`` (dicts of hyper-parameters) and per-parameter ``state``.

    Subclasses name their state arrays (``_keys``), their initial values (``_fill``) and call
    their update rule (``_update``); stepping, buffers and state_dict live here.
    """

    _has_step = True  # whether state holds a 'step' tensor (all but SGD)
    _flat = True  # whether parameters live in flat buffers (not LBFGS)
    _state_shaped = True  # whether state arrays have their parameter's shape (not LBFGS)
    # Per-parameter 0-d float32 state besides 'step', with its initial value (NAdam's
    # mu_product). Kept like 'step': one float32 array per bucket, the state tensors are views.
    # ``_update`` gets it in ``state`` as 1-d arrays (one entry per parameter, all equal in a
    # whole-bucket update) and updates it in place.
    _scalars: dict[str, float] = {}

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__module__}.{type(params).__name__}"
            )
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._cache: list[tuple[tuple[int, ...], list[_Bucket]] | None] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:  # every optimizer's own step runs the step hooks
            cls.step = _with_step_hooks(cls.__dict__["step"])

    def register_step_pre_hook(self, hook: Callable) -> Any:
        """``hook(optimizer, args, kwargs)`` before each ``step``; it may return
        ``(new_args, new_kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
        from ..nn.modules.module import RemovableHandle

        hooks = self.__dict__.setdefault("_step_pre_hooks", {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> Any:
        """``hook(optimizer, args, kwargs)`` after each ``step``. Returns a removable handle."""
        from ..nn.modules.module import RemovableHandle

        hooks = self.__dict__.setdefault("_step_post_hooks", {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. "
                    "Some param names are missing"
                )
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__module__}.{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(param_group)
        self.param_groups.append(param_group)
        self._cache.append(None)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyper-parameters (subclasses: PyTorch's texts)."""

    # ------------------------------------------------------------------ hooks for subclasses

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        """Names of the state arrays this group's settings need."""
        return ()

    def _fill(self, group: dict[str, Any], key: str) -> float:
        """Initial value of state array ``key``."""
        return 0.0

    def _update(
        self,
        group: dict[str, Any],
        params: list[np.ndarray],
        grads: list[np.ndarray],
        state: dict[str, list[np.ndarray]],
        steps: list[float],
        first: bool,
        scratch: list,
    ) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: set them to None (default) or fill them with zeros."""
        for gi, group in enumerate(self.param_groups):
            if self._flat:
                # Build the buffers now, so the coming backward writes into them.
                self._buckets(gi, group)
            cache = self._cache[gi]
            if set_to_none:
                for p in group["params"]:
                    p._grad = None  # the slot behind .grad: no validation needed
                if cache is not None:
                    # Backward writes the next gradients into the same buffer; if anyone
                    # still holds the old ones (a Tensor, its array or a view), hand backward
                    # a new buffer so what they hold keeps its values, as in PyTorch.
                    for b in cache[1]:
                        if sys.getrefcount(b.gflat) > 2 + len(b.gviews) or any(
                            sys.getrefcount(v) > 4 for v in b.gviews
                        ):
                            b.new_grad_buffer()
                continue
            # Gradients in our buffers are zeroed by one fill per bucket; others one by one.
            flats = [b.gflat for b in cache[1]] if cache is not None else []
            for f in flats:
                f.fill(0)
            for p in group["params"]:
                g = p.grad
                if g is not None:
                    g.grad_fn = None
                    g.requires_grad = False
                    base = g._data.base
                    if base is None or not any(base is f for f in flats):
                        g._data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        for gi, group in enumerate(self.param_groups):
            buckets = self._buckets(gi, group)
            for b in buckets:
                for p, v in zip(b.params, b.pviews, strict=True):
                    if p._data is not v:  # replaced (p.data = …, module.double()): rebuild
                        self._cache[gi] = None
                        buckets = self._buckets(gi, group)
                        break
                else:
                    continue
                break
            for b in buckets:
                self._step_bucket(group, b)
        return loss

    def _buckets(self, gi: int, group: dict[str, Any]) -> list[_Bucket]:
        params = group["params"]
        ids = tuple(map(id, params))
        cache = self._cache[gi]
        if cache is None or cache[0] != ids:
            cache = (ids, self._build(group))
            self._cache[gi] = cache
        return cache[1]

    def _build(self, group: dict[str, Any]) -> list[_Bucket]:
        """Move the group's parameters into flat buffers and their state into flat state."""
        by_dtype: dict[np.dtype, list[Tensor]] = {}
        seen: set[int] = set()
        for p in group["params"]:
            if id(p) in seen or p._data.dtype.kind != "f":
                continue
            seen.add(id(p))
            by_dtype.setdefault(p._data.dtype, []).append(p)
        buckets = []
        for dtype, params in by_dtype.items():
            b = _Bucket(params, dtype)
            b.scalars = {k: np.full(len(params), v, np.float32) for k, v in self._scalars.items()}
            for i, p in enumerate(params):
                st = self.state.get(p)
                if not st:
                    continue
                for key, value in list(st.items()):
                    if key == "step":
                        if self._has_step:
                            b.steps[i] = float(_array(value))
                            st[key] = _make(b.steps[i : i + 1].reshape(()))
                    elif key in b.scalars:
                        b.scalars[key][i] = float(_array(value))
                        st[key] = _make(b.scalars[key][i : i + 1].reshape(()))
                    elif isinstance(value, Tensor | np.ndarray) or hasattr(value, "numpy"):
                        arr = _array(value)
                        if arr.shape != p._data.shape:
                            continue
                        view = b.state_key(key, self._fill(group, key))[i]
                        np.copyto(view, arr, casting="unsafe")
                        st[key] = _make(view)
            b.uniform = self._is_uniform(b)
            buckets.append(b)
        return buckets

    def _is_uniform(self, b: _Bucket) -> bool:
        """True when all parameters of the bucket are at the same step with the same state."""
        keys0 = set(self.state.get(b.params[0], ()))
        return (
            bool((b.steps == b.steps[0]).all())
            and all(bool((a == a[0]).all()) for a in b.scalars.values())
            and all(set(self.state.get(p, ())) == keys0 for p in b.params)
        )

    def _step_bucket(self, group: dict[str, Any], b: _Bucket) -> None:
        params, pviews, gviews = b.params, b.pviews, b.gviews
        have: list[int] = []
        for i, p in enumerate(params):
            g = p._grad
            if g is None:
                continue
            if g._data is not gviews[i]:
                # A gradient backward did not write into our buffer (set by hand, or made
                # before the buffer existed): copy it in for the vectorised update.
                np.copyto(gviews[i], g._data, casting="unsafe")
            have.append(i)
            p._vc[0] += 1
        if not have:
            return
        keys = self._keys(group)
        state = self.state
        if len(have) == len(params) and (b.uniform or self._is_uniform(b)):
            b.uniform = True
            first = False
            if b.ready != keys:  # first full step with these settings: create the state
                st0 = state.get(params[0])
                first = not st0 or any(k not in st0 for k in keys)
                views = {k: b.state_key(k, self._fill(group, k)) for k in keys}
                if (keys or self._has_step) and (first or (self._has_step and "step" not in st0)):
                    for i, p in enumerate(params):
                        st = state[p]
                        if self._has_step and "step" not in st:  # first, as in torch's dicts
                            st["step"] = _make(b.steps[i : i + 1].reshape(()))
                        for k, a in b.scalars.items():
                            if k not in st:
                                st[k] = _make(a[i : i + 1].reshape(()))
                        for k in keys:
                            if k not in st:
                                st[k] = _make(views[k][i])
                b.ready = keys
            if self._has_step:  # SGD has no 'step' state: its counts only need to stay equal
                b.steps += 1
            gflat = b.gflat
            if group.get("maximize", False):
                gflat = np.negative(gflat)
            step = [float(b.steps[0])]
            arrays = {k: [b.sflat[k]] for k in keys}
            if b.scalars:
                arrays.update((k, [a]) for k, a in b.scalars.items())
            n = b.flat.size
            pool = _pool() if n >= _PARALLEL_MIN else None
            if pool is None:
                self._update(
                    group,
                    [b.flat],
                    [gflat],
                    arrays,
                    step,
                    first,
                    [b.scratch],
                )
                return
            threaded = b.use_threads()
            t0 = time.perf_counter()
            if threaded:
                self._update_halves(pool, group, b, gflat, keys, step, first)
            else:
                self._update(
                    group,
                    [b.flat],
                    [gflat],
                    arrays,
                    step,
                    first,
                    [b.scratch],
                )
            b.record(threaded, time.perf_counter() - t0)
            return
        # Some parameters have no gradient or are at different steps: per parameter, same math.
        b.uniform = False
        for i in have:
            p = params[i]
            st = state[p] if keys or self._has_step else {}
            first = any(k not in st for k in keys)
            if self._has_step and "step" not in st:
                st["step"] = _make(b.steps[i : i + 1].reshape(()))
            for k, a in b.scalars.items():
                if k not in st:
                    st[k] = _make(a[i : i + 1].reshape(()))
            for k in keys:
                if k not in st:
                    st[k] = _make(b.state_key(k, self._fill(group, k))[i])
            b.steps[i] += 1
            g = gviews[i]
            if group.get("maximize", False):
                g = np.negative(g)
            arrays = {k: [b.sviews[k][i]] for k in keys}
            if b.scalars:
                arrays.update((k, [a[i : i + 1]]) for k, a in b.scalars.items())
            self._update(
                group,
                [pviews[i]],
                [g],
                arrays,
                [float(b.steps[i])],
                first,
                [b.scratch_views[i]],
            )

    def _update_halves(
        self,
        pool: Any,
        group: dict[str, Any],
        b: _Bucket,
        gflat: np.ndarray,
        keys: tuple[str, ...],
        step: list[float],
        first: bool,
    ) -> None:
        """The same update on the two halves of the flat buffers, in two threads.

        The update is elementwise and NumPy releases the GIL in its loops, so this is
        bit-identical to one call on the whole buffer.
        """
        n = b.flat.size
        h = (n // 2) & ~63
        jobs = [
            (
                group,
                [b.flat[sl]],
                [gflat[sl]],
                {k: [b.sflat[k][sl]] for k in keys},
                step,
                first,
                [(b.scratch[0][sl], b.scratch[1][sl])],
            )
            for sl in (slice(0, h), slice(h, n))
        ]
        # Per-parameter scalars are updated once: the second half works on a copy.
        for k, a in b.scalars.items():
            jobs[0][3][k] = [a]
            jobs[1][3][k] = [a.copy()]
        fut = pool.submit(self._update, *jobs[1])
        self._update(*jobs[0])
        fut.result()

    # ------------------------------------------------------------------ state_dict

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``, as torch."""
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {mapping[id(p)]: v for p, v in self.state.items() if id(p) in mapping}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict from ``state_dict()`` or from ``torch.optim`` (tensors converted)."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)} saved, {len(groups)} in the optimizer)"
            )
        for gi, (g, sg) in enumerate(zip(groups, saved_groups, strict=True)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group (group {gi}: {len(sg['params'])} saved parameters, "
                    f"{len(g['params'])} in the optimizer)"
                )
        id_map: dict[Any, Tensor] = {}
        for g, sg in zip(groups, saved_groups, strict=True):
            for saved_id, p in zip(sg["params"], g["params"], strict=True):
                id_map[saved_id] = p
        new_state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict.get("state", {}).items():
            key = k if k in id_map else (int(k) if str(k).isdigit() else k)
            if key not in id_map:
                new_state[k] = v
                continue
            p = id_map[key]
            new_state[p] = self._cast_state(p, v, key)
        for g, sg in zip(groups, saved_groups, strict=True):
            for name, value in sg.items():
                if name == "params":
                    continue
                g[name] = tuple(value) if name == "betas" else value
        self.state = new_state
        self._cache = [None] * len(groups)

    def _cast_state(self, p: Tensor, v: Any, index: Any) -> Any:
        """A copy of one parameter's saved state, as chainrule tensors of the parameter's dtype."""
        if isinstance(v, dict):
            out = {}
            for key, value in v.items():
                if isinstance(value, Tensor | np.ndarray) or hasattr(value, "numpy"):
                    arr = np.array(_array(value), copy=True)
                    if key == "step" or key in self._scalars:
                        arr = arr.astype(np.float32)
                    elif arr.dtype.kind == "f":
                        if self._state_shaped and arr.shape != p._data.shape and arr.ndim > 0:
                            raise ValueError(
                                f"loaded state dict has state '{key}' of shape "
                                f"{list(arr.shape)} for parameter {index} of shape "
                                f"{list(p._data.shape)}"
                            )
                        arr = arr.astype(p._data.dtype, copy=False)
                    out[key] = _make(arr)
                else:
                    out[key] = self._cast_state(p, value, index)
            return out
        if isinstance(v, list | tuple):
            return type(v)(self._cast_state(p, x, index) for x in v)
        if isinstance(v, Tensor | np.ndarray) or hasattr(v, "numpy"):
            return _make(np.array(_array(v), copy=True))
        return v

    # ------------------------------------------------------------------ misc

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_cache"] = [None] * len(self.param_groups)
        return d

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


Optimizer.step = _with_step_hooks(Optimizer.step)  # type: ignore[method-assign]
