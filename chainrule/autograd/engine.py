"""The backward pass: graph nodes, an iterative topological sort, and gradient accumulation.

A ``Node`` is one recorded op call. It holds the op's ``vjp`` closure (from ``ops/``), the input
tensors (to route gradients to their producers or leaves), the ``needs`` mask, and the inputs'
version counters (to catch in-place changes of saved values). Broadcasting is undone here, once,
for every op (``sum_to_shape``), so no VJP ever has to think about it.
"""

from __future__ import annotations

import linecache
import os
import sys
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _memory
from .grad_mode import state

if TYPE_CHECKING:
    from .._tensor import Tensor

__all__ = ["Node", "run_backward", "sum_to_shape", "observers", "add_observer", "remove_observer"]

# Called as observer(node, g_out, g_ins) after each VJP; empty means zero cost.
observers: list[Callable[[Node, Any, tuple], None]] = []

# Called with no arguments at the end of every backward() that accumulated into .grad, after
# the last leaf (torch's queue_callback); chainrule.distributed averages gradients here.
post_backward: list[Callable[[], None]] = []

# Set by _tensor.py (which imports this module): the fast Tensor constructor, without an import
# statement on every backward.
_make: Any = None

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Node:
    """One recorded op call: ``vjp`` plus the inputs gradients flow back to."""

    __slots__ = (
        "vjp",
        "inputs",
        "needs",
        "versions",
        "opdef",
        "n_out",
        "out_meta",
        "hooks",
        "retained",
        "trace",
        "__weakref__",
    )

    def __init__(
        self,
        vjp: Callable,
        inputs: tuple,
        needs: tuple[bool, ...],
        opdef: Any,
        n_out: int = 1,
        out_meta: Any = None,
        versions: tuple | None = None,
    ) -> None:
        self.vjp = vjp
        self.inputs = inputs
        self.needs = needs
        if versions is None:
            versions = tuple([t._vc[0] if t is not None else 0 for t in inputs])
        self.versions = versions
        self.opdef = opdef
        self.n_out = n_out
        self.out_meta = out_meta  # ((shape, dtype), ...) for multi-output nodes
        self.hooks: dict[int, list] | None = None
        self.retained: dict[int, Any] | None = None
        self.trace = capture_stack() if state.anomaly else None

    def name(self) -> str:
        """PyTorch-style name of the backward function, e.g. ``MulBackward0``."""
        return self.opdef.backward_name

    @property
    def next_functions(self) -> tuple:
        """((node, output_index), …) of the inputs, like torch's ``grad_fn.next_functions``."""
        out = []
        for t in self.inputs:
            if t is None or not t.requires_grad:
                out.append((None, 0))
            elif t.grad_fn is not None:
                out.append((t.grad_fn, t._out_idx))
            else:
                out.append((_AccumulateGrad(t), 0))
        return tuple(out)

    def release(self) -> None:
        """Drop the closure and its saved arrays (called after backward without retain_graph)."""
        self.vjp = None

    def __repr__(self) -> str:
        return f"<{self.name()} object>"


class _AccumulateGrad:
    """Stand-in node for a leaf in ``next_functions`` (as torch shows it)."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad object>"


def add_observer(fn: Callable[[Node, Any, tuple], None]) -> None:
    """Register ``fn(node, g_out, g_ins)`` to be called after every VJP in every backward."""
    observers.append(fn)


def remove_observer(fn: Callable[[Node, Any, tuple], None]) -> None:
    """Unregister an observer added with ``add_observer``."""
    if fn in observers:
        observers.remove(fn)


def sum_to_shape(g: np.ndarray, shape: tuple, node: Node | None = None, index: int = 0) -> Any:
    """Undo NumPy broadcasting: sum ``g`` down to ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        return _broadcast_error(g, shape, node, index)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    for i, n in enumerate(shape):
        if n != 1 and g.shape[lead + i] != n:
            return _broadcast_error(g, shape, node, index)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape) if lead or out.shape != shape else out


def _broadcast_error(g: np.ndarray, shape: tuple, node: Node | None, index: int) -> None:
    where = f"{node.opdef.name}: " if node is not None else ""
    raise RuntimeError(
        f"{where}gradient of shape {tuple(g.shape)} for input {index} cannot be summed "
        f"to the input's shape {tuple(shape)}"
    )


def _toposort(roots: Sequence[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, outputs first; iterative so deep graphs cannot recurse."""
    order: list[Node] = []
    if len(roots) == 1:
        # A chain (each node has at most one producing node among its inputs: an MLP and its
        # loss) is already in topological order when walked from the root: no set, no stack.
        node: Node | None = roots[0]
        while node is not None:
            order.append(node)
            nxt = None
            for t in node.inputs:
                if t is not None:
                    fn = t.grad_fn
                    if fn is not None and fn is not nxt:
                        if nxt is not None:
                            break  # a second producer: not a chain
                        nxt = fn
            else:
                node = nxt
                continue
            break
        else:
            return order
        order = []
    visited: set[Node] = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, 0)]
        while stack:
            node, i = stack[-1]
            inputs = node.inputs
            n = len(inputs)
            while i < n:
                t = inputs[i]
                i += 1
                if t is not None:
                    fn = t.grad_fn
                    if fn is not None and fn not in visited:
                        visited.add(fn)
                        stack[-1] = (node, i)
                        stack.append((fn, 0))
                        break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _as_tensor(g: np.ndarray) -> Tensor:
    return _make(g)


def _run_hooks(hooks: list, g: np.ndarray) -> np.ndarray:
    for hook in hooks:
        out = hook(_as_tensor(g))
        if out is not None:
            new = out._data if hasattr(out, "_data") else np.asarray(out)
            if new.shape != g.shape:
                raise RuntimeError(
                    f"hook returned a gradient of shape {tuple(new.shape)}, "
                    f"expected {tuple(g.shape)}"
                )
            g = new.astype(g.dtype, copy=False)
    return g


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[np.ndarray],
    retain_graph: bool = False,
    capture: Sequence[Tensor] | None = None,
) -> list[np.ndarray | None] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``capture``: accumulate into the ``.grad`` of leaves (``Tensor.backward``).
    With ``capture``: return the gradients of those tensors and leave ``.grad`` alone
    (``autograd.grad``).
    """
    if not _memory.applied:
        _memory.apply()
    grads: dict[Node, Any] = {}
    owned: set[int] = set()  # ids of accumulators we allocated and may add into in place
    leaf_grads: dict[int, list] = {}
    captured: dict[Any, int] = {}
    results: list[np.ndarray | None] = []
    if capture is not None:
        results = [None] * len(capture)
        for k, t in enumerate(capture):
            captured[(t.grad_fn, t._out_idx) if t.grad_fn is not None else id(t)] = k

    def add_to_node(node: Node, idx: int, g: np.ndarray) -> None:
        if node.n_out == 1:
            prev = grads.get(node)
            if prev is None:
                grads[node] = g
            elif id(prev) in owned:
                prev += g
            else:
                acc = prev + g
                owned.add(id(acc))
                grads[node] = acc
            return
        slots = grads.get(node)
        if slots is None:
            slots = grads[node] = [None] * node.n_out
        prev = slots[idx]
        if prev is None:
            slots[idx] = g
        elif id(prev) in owned:
            prev += g
        else:
            acc = prev + g
            owned.add(id(acc))
            slots[idx] = acc

    def add_to_leaf(t: Tensor, g: np.ndarray) -> None:
        entry = leaf_grads.get(id(t))
        if entry is None:
            leaf_grads[id(t)] = [t, g]
        elif id(entry[1]) in owned:
            entry[1] += g
        else:
            entry[1] = entry[1] + g
            owned.add(id(entry[1]))

    for t, g in zip(roots, root_grads):
        if t.grad_fn is not None:
            add_to_node(t.grad_fn, t._out_idx, g)
        elif t.requires_grad:
            add_to_leaf(t, g)
    order = _toposort([t.grad_fn for t in roots if t.grad_fn is not None])
    anomaly = state.anomaly

    for node in order:
        g = grads.pop(node, None)
        if g is None:
            continue
        # Once handed to a VJP an accumulator may be passed on by reference: never add into it.
        multi = node.n_out != 1
        if not multi:
            if owned:
                owned.discard(id(g))
        else:
            for gi in g:
                owned.discard(id(gi))
        vjp = node.vjp
        if vjp is None:
            raise RuntimeError(_FREED)
        if multi:
            g = tuple(
                gi if gi is not None else np.zeros(shape, dtype)
                for gi, (shape, dtype) in zip(g, node.out_meta)
            )
        if node.hooks is not None or node.retained is not None:
            g = _output_hooks(node, g)
        if captured:
            _capture(node, g, captured, results)
        inputs = node.inputs
        for t, v in zip(inputs, node.versions):
            if t is not None and t._vc[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: input of {node.name()} of shape "
                    f"{tuple(t.shape)} is at version {t._vc[0]}; expected version {v} instead."
                )
        if node.opdef.quiet:
            # why: like torch, gradients at poles are inf/nan without NumPy warnings; only ops
            # declared @op(quiet=True) pay for the errstate (~0.6 µs)
            with np.errstate(all="ignore"):
                gins = vjp(g, node.needs)
        else:
            gins = vjp(g, node.needs)
        if anomaly:
            _check_finite(node, gins, g)
        if observers:
            for obs in observers:
                obs(node, g, gins)
        if not retain_graph:
            node.vjp = None  # node.release(), without the call
        needs = node.needs
        i = -1
        for t in inputs:
            i += 1
            gi = gins[i]
            if gi is None or t is None or not needs[i]:
                continue
            data = t._data
            if gi.dtype is not data.dtype and gi.dtype != data.dtype:
                gi = gi.astype(data.dtype)
            if gi.shape != data.shape:
                gi = sum_to_shape(gi, data.shape, node, i)
            fn = t.grad_fn
            # the first gradient reaching a node or leaf is stored as is (inlined fast case)
            if fn is not None:
                if fn.n_out == 1 and fn not in grads:
                    grads[fn] = gi
                else:
                    add_to_node(fn, t._out_idx, gi)
            elif id(t) not in leaf_grads:
                leaf_grads[id(t)] = [t, gi]
            else:
                add_to_leaf(t, gi)

    if capture is not None:
        for entry in leaf_grads.values():
            k = captured.get(id(entry[0]))
            if k is not None:
                results[k] = entry[1]
        # Results may share memory with each other; hand each caller its own array.
        return [None if r is None else np.array(r, copy=True) for r in results]
    taken: set[int] = set()  # arrays a leaf took as its .grad: no other leaf may take them
    for t, g in leaf_grads.values():
        if t._hooks:
            g = _run_hooks(t._hooks, g)
        if t._grad is None:
            # _accumulate_leaf's common case inlined (same reference count: t._grad_buf, the
            # optimizer's view list, `buf` and getrefcount's argument); a copy takes nothing
            buf = t._grad_buf
            if buf is not None and sys.getrefcount(buf) <= 4:
                buf[...] = g  # same dtype and shape (cast and reduced above); cheaper than copyto
                t._grad = _make(buf)
                continue
        if id(g) in taken:
            g = g.copy()
        taken.add(id(g))
        _accumulate_leaf(t, g, owned)
    if post_backward:
        for fn in tuple(post_backward):
            fn()
    return None


def _accumulate_leaf(t: Tensor, g: np.ndarray, owned: set[int]) -> None:
    """``t.grad += g``, into a preallocated buffer if the tensor has one (optimizer flat views)."""
    if t._grad is not None:
        gd = t._grad._data
        if gd.shape != g.shape:
            raise RuntimeError(
                f"existing .grad of shape {tuple(gd.shape)} does not match the new gradient "
                f"of shape {tuple(g.shape)}"
            )
        np.add(gd, g, out=gd, casting="unsafe")
        return
    buf = t._grad_buf
    # why: refs are t._grad_buf, the optimizer's view list, `buf` and the call's argument; one
    # more means an old .grad Tensor still holds this buffer, so it must not be overwritten.
    if buf is not None and sys.getrefcount(buf) <= 4:
        np.copyto(buf, g, casting="unsafe")
        t._grad = _make(buf)
    elif id(g) in owned or (g.base is None and g.flags.writeable and g.flags.owndata):
        # A fresh array from a VJP: take it. Anything that may alias another gradient is copied.
        t._grad = _make(g)
    else:
        t._grad = _make(np.array(g, copy=True))


def _output_hooks(node: Node, g: Any) -> Any:
    multi = node.n_out > 1
    gs = list(g) if multi else [g]
    if node.hooks is not None:
        for idx, hooks in node.hooks.items():
            gs[idx] = _run_hooks(hooks, gs[idx])
    if node.retained is not None:
        for idx, ref in node.retained.items():
            t = ref()
            if t is not None:
                if t._grad is None:
                    t._grad = _as_tensor(np.array(gs[idx], copy=True))
                else:
                    t._grad._data += gs[idx]
    return tuple(gs) if multi else gs[0]


def _capture(node: Node, g: Any, captured: dict, results: list) -> None:
    for idx in range(node.n_out):
        k = captured.get((node, idx))
        if k is not None:
            results[k] = g[idx] if node.n_out > 1 else g


# chainrule's own directory: frames inside it are not "the user's line" in anomaly reports.
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def capture_stack(limit: int = 40) -> list[tuple[str, int, str]]:
    """The caller's stack as (file, line, function), outermost first; cheap (no source reads).

    Anomaly mode records this per node, so it walks frames instead of calling
    ``traceback.extract_stack`` (which reads source lines and costs several times more).
    """
    f = sys._getframe(1)
    out = []
    while f is not None and len(out) < limit:
        out.append((f.f_code.co_filename, f.f_lineno, f.f_code.co_name))
        f = f.f_back
    out.reverse()
    return out


def user_origin(stack: list[tuple[str, int, str]] | None) -> str:
    """'file:line in func: source' of the innermost frame outside chainrule, plus context."""
    if not stack:
        return ""
    user = [fr for fr in stack if not os.path.abspath(fr[0]).startswith(_PKG_DIR)]
    frame = user[-1] if user else stack[-1]
    src = linecache.getline(frame[0], frame[1]).strip()
    where = f"{frame[0]}:{frame[1]} in {frame[2]}" + (f": {src}" if src else "")
    shown = [(*fr, linecache.getline(fr[0], fr[1]).strip()) for fr in (user or stack)[-4:]]
    ctx = "".join(traceback.format_list(traceback.StackSummary.from_list(shown)))
    return f"\nCreated at {where}\nForward call stack (innermost last):\n{ctx}"


def describe_array(a: Any) -> str:
    """Shape, dtype, min/max/mean of the finite values and the nan/inf counts of an array."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        if a.size == 0:
            return f"shape {tuple(a.shape)}, {a.dtype}, empty"
        return (
            f"shape {tuple(a.shape)}, {a.dtype}, min {a.min()}, max {a.max()}, "
            f"mean {float(a.mean()):.6g}"
        )
    nan = int(np.isnan(a).sum())
    inf = int(np.isinf(a).sum())
    fin = a[np.isfinite(a)]
    stats = (
        f"min {float(fin.min()):.6g}, max {float(fin.max()):.6g}, mean {float(fin.mean()):.6g}"
        if fin.size
        else "no finite values"
    )
    extra = ""
    if fin.size:
        extra = f", {int((fin == 0).sum())} zeros, {int((fin < 0).sum())} negative"
    return f"shape {tuple(a.shape)}, {a.dtype}, {stats}, {nan} nan, {inf} inf{extra}"


def _check_finite(node: Node, gins: tuple, g: Any = None) -> None:
    for i, gi in enumerate(gins):
        if gi is not None and gi.dtype.kind == "f" and not np.isfinite(gi).all():
            lines = [
                f"Function '{node.name()}' returned nan/inf values in its {i}th output "
                f"(the gradient of input {i} of op '{node.opdef.name}'): "
                f"{describe_array(gi)}",
            ]
            if node.opdef.formula:
                lines.append(f"Gradient formula: {node.opdef.formula}")
            if g is not None:
                gs = g if node.n_out > 1 else (g,)
                for k, gk in enumerate(gs):
                    lines.append(f"Upstream gradient {k}: {describe_array(gk)}")
            for k, t in enumerate(node.inputs):
                if t is not None:
                    lines.append(f"Forward input {k}: {describe_array(t._data)}")
            raise RuntimeError("\n".join(lines) + user_origin(node.trace))


def retain_ref(t: Tensor) -> Any:
    """A weak reference to a non-leaf tensor whose gradient should be kept."""
    return weakref.ref(t)
