"""Record the ops of one forward pass: which op ran, on what, with which settings, in which module.

The op registry calls ``registry._tracer(opdef, inputs, params, outputs)`` after every op while
a trace is running (and costs one ``is None`` check otherwise). Forward pre-hooks and hooks keep a
stack of module paths, so an op that cannot be exported can be blamed on the layer that ran it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from ..ops import _registry

__all__ = ["Event", "Tracer", "tracing"]


class Event:
    """One op call seen during the trace."""

    __slots__ = ("opdef", "inputs", "params", "outputs", "module", "states")

    def __init__(self, opdef: Any, inputs: tuple, params: dict, outputs: tuple, module: tuple):
        self.opdef = opdef
        self.inputs = inputs
        self.params = params
        self.outputs = outputs
        self.module = module  # (dotted path, class name) of the innermost running module
        # Graph position and version of every tensor at this moment: in-place ops later in the
        # forward pass (setitem, +=) move a tensor to a new node, and conversion runs afterwards.
        Tensor = _registry._Tensor
        self.states = {
            id(t): (t.grad_fn, t._out_idx, t._vc[0])
            for t in (*inputs, *outputs)
            if isinstance(t, Tensor)
        }

    def __repr__(self) -> str:
        return f"Event({self.opdef.name!r}, module={self.module[0]!r})"


class Tracer:
    """Collects ``Event``s; keeps every input and output alive so ``id()`` stays unique."""

    def __init__(self, root_name: str) -> None:
        self.events: list[Event] = []
        self.stack: list[tuple[str, str]] = [("", root_name)]

    def __call__(self, opdef: Any, inputs: tuple, params: dict, out: Any) -> None:
        outputs = tuple(out) if isinstance(out, tuple | list) else (out,)
        self.events.append(Event(opdef, inputs, dict(params), outputs, self.stack[-1]))


def _hooks(tracer: Tracer, model: Any) -> list[Any]:
    handles = []
    for path, mod in model.named_modules():
        if not path:
            continue

        def pre(module: Any, args: Any, _path: str = path) -> None:
            tracer.stack.append((_path, type(module).__name__))

        def post(module: Any, args: Any, result: Any) -> None:
            if len(tracer.stack) > 1:
                tracer.stack.pop()

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    return handles


@contextmanager
def tracing(model: Any) -> Any:
    """Within the block every op call is recorded into the yielded ``Tracer``."""
    if _registry._tracer is not None:
        raise RuntimeError("onnx.export: a trace is already running (nested export?)")
    tracer = Tracer(type(model).__name__)
    handles = _hooks(tracer, model) if hasattr(model, "named_modules") else []
    _registry._tracer = tracer
    try:
        yield tracer
    finally:
        _registry._tracer = None
        for h in handles:
            h.remove()


def flatten_outputs(out: Any, leaf: Callable[[Any], bool]) -> list[Any]:
    """The leaves of a nested tuple/list/dict of outputs, in order."""
    if leaf(out):
        return [out]
    if isinstance(out, tuple | list):
        return [x for o in out for x in flatten_outputs(o, leaf)]
    if isinstance(out, dict):
        return [x for o in out.values() for x in flatten_outputs(o, leaf)]
    if out is None:
        return []
    raise TypeError(f"onnx.export: model outputs must be tensors (or tuples of them), got {out!r}")
