"""Export a chainrule model to ONNX by tracing one forward pass through the op registry.

Every op call of the forward pass is recorded (``chainrule/onnx/_trace.py``) and turned into ONNX
nodes (``_converters.py``). Parameters and buffers become initialisers named after their
state_dict keys. The file is checked with ``onnx.checker`` (full check, with shape inference)
and written atomically: either the whole checked model is at ``path`` or nothing is.

The ``onnx`` extra (``pip install chainrule[onnx]``) is imported only when ``export`` runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["export", "UnsupportedOperatorError", "OnnxExporterError"]

DEFAULT_OPSET = 17
_MIN_OPSET = 17


class OnnxExporterError(RuntimeError):
    """The model cannot be exported (PyTorch's ``torch.onnx.errors.OnnxExporterError``)."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op the model ran has no ONNX mapping; the message names the op and the module."""


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "chainrule.onnx.export needs the 'onnx' package, which is not installed. "
            "Install the extra with: pip install chainrule[onnx]"
        ) from e
    return onnx


def _as_args(example_input: Any) -> tuple:
    from .._tensor import Tensor, tensor

    args = example_input if isinstance(example_input, tuple | list) else (example_input,)
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            a = tensor(a)
        if not isinstance(a, Tensor):
            raise TypeError(
                f"onnx.export: example_input must be a Tensor or a tuple of Tensors, got "
                f"{type(a).__name__}"
            )
        out.append(a)
    return tuple(out)


def _axes_spec(spec: Any, default_name: str) -> dict[int, str]:
    if isinstance(spec, Mapping):
        return {int(k): str(v) for k, v in spec.items()}
    if isinstance(spec, Sequence):
        return {int(k): f"{default_name}_dynamic_axes_{i + 1}" for i, k in enumerate(spec)}
    raise TypeError(f"onnx.export: dynamic_axes values must be a dict or a list, got {spec!r}")


def _names(given: Sequence[str] | None, n: int, stem: str) -> list[str]:
    given = list(given or [])
    if len(given) > n:
        raise ValueError(f"onnx.export: {len(given)} {stem} names given for {n} {stem}s")
    default = [stem] if n == 1 else [f"{stem}_{i}" for i in range(n)]
    return given + default[len(given) :]


def export(
    model: Any,
    example_input: Any,
    path: Any,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    opset_version: int = DEFAULT_OPSET,
) -> None:
    """Write ``model`` as an ONNX file that onnxruntime runs with the same outputs.

    The model runs once on ``example_input`` in eval mode (its training flags are restored
    afterwards); every op it calls becomes ONNX nodes.

    Args:
        model: a ``chainrule.nn.Module`` (or any callable built from chainrule ops).
        example_input: a Tensor, or a tuple of Tensors passed as positional arguments.
        path: file path (written atomically) or a writable binary file object.
        input_names / output_names: graph value names (default ``input``/``output``, or
            ``input_0``, ``input_1`` … when there are several).
        dynamic_axes: ``{name: {axis: axis_name}}`` or ``{name: [axis, …]}`` as in PyTorch.
            ``None`` makes axis 0 (the batch) of every input dynamic; sizes of other values that
            follow from it (outputs, reshapes) stay dynamic too.
        opset_version: the ONNX opset to target (17 or newer).

    Raises:
        ImportError: the ``onnx`` extra is missing (``pip install chainrule[onnx]``).
        UnsupportedOperatorError: an op has no ONNX mapping; names the op and the module
            (by its path in the model) that called it. No file is written.

    Example:
        >>> chainrule.onnx.export(model, chainrule.randn(1, 4), "model.onnx")  # doctest: +SKIP
    """
    onnx = _require_onnx()
    from onnx import helper

    from . import _converters
    from ._graph import GraphBuilder, Unsupported, onnx_dtype
    from ._trace import flatten_outputs, tracing

    if not isinstance(opset_version, int) or opset_version < _MIN_OPSET:
        raise ValueError(
            f"onnx.export: opset_version must be an int >= {_MIN_OPSET}, got {opset_version!r}"
        )
    max_opset = onnx.defs.onnx_opset_version()
    if opset_version > max_opset:
        raise ValueError(
            f"onnx.export: opset_version {opset_version} is newer than the installed onnx "
            f"package supports ({max_opset})"
        )
    from .._tensor import Tensor, _make
    from ..autograd.grad_mode import enable_grad

    args = _as_args(example_input)
    in_names = _names(input_names, len(args), "input")

    # Parameters and buffers are found by identity (of the Tensor or of its ndarray).
    named: dict[int, str] = {}
    if hasattr(model, "named_parameters"):
        for key, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t is not None:
                named.setdefault(id(t), key)
                named.setdefault(id(t._data), key)

    # Trace in eval mode; float inputs require grad so every op (even views) is recorded.
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    traced_args = []
    for a in args:
        t = _make(a._data)
        if a._data.dtype.kind == "f":
            t.requires_grad = True
        traced_args.append(t)
    try:
        if hasattr(model, "eval"):
            model.eval()
        with tracing(model) as tracer, enable_grad():
            result = model(*traced_args)
    finally:
        for m, mode in modes:
            m.training = mode
    outputs = flatten_outputs(result, lambda o: isinstance(o, Tensor))
    out_names = _names(output_names, len(outputs), "output")

    axes: dict[str, dict[int, str]] = {}
    if dynamic_axes is None:
        axes = {n: {0: "batch"} for n, a in zip(in_names, args) if a.ndim}
    else:
        known = set(in_names) | set(out_names)
        for n, spec in dynamic_axes.items():
            if n not in known:
                raise ValueError(
                    f"onnx.export: dynamic_axes names {n!r}, which is not an input or output "
                    f"name ({sorted(known)})"
                )
            axes[n] = _axes_spec(spec, n)

    g = GraphBuilder(opset_version, named)
    graph_inputs = []
    for name, a, t in zip(in_names, args, traced_args):
        g.reserve(name)
        spec = axes.get(name, {})
        for ax in spec:
            if not -a.ndim <= ax < max(a.ndim, 1):
                raise ValueError(f"onnx.export: dynamic axis {ax} is out of range for {name!r}")
        spec = {ax % a.ndim: s for ax, s in spec.items()} if a.ndim else {}
        dyn = tuple(spec.get(i) for i in range(a.ndim))
        g.bind(t, name, dyn)
        dims = [spec.get(i, n) for i, n in enumerate(a.shape)]
        graph_inputs.append(helper.make_tensor_value_info(name, onnx_dtype(a._data.dtype), dims))
    for name in out_names:
        g.reserve(name)

    for ev in tracer.events:
        try:
            names = _converters.convert(g, ev)
        except Unsupported as e:
            _raise_unsupported(e, ev.opdef.name, ev.module, opset_version)
        for o, name in zip(ev.outputs, names):
            dyn = g.dyn.get(name)
            if dyn is None or len(dyn) != o._data.ndim:
                dyn = _default_dyn(g, ev, o._data)
            g.bind(o, name, dyn)

    graph_outputs = []
    for name, o in zip(out_names, outputs):
        src = g.lookup(o)
        if src is None:
            try:
                src = g.value(o)  # an output that no op produced (e.g. a parameter)
            except Unsupported as e:
                _raise_unsupported(e, "output", ("", type(model).__name__), opset_version)
        dyn = list(g.dyn.get(src, (None,) * o.ndim))
        g.nodes.append(helper.make_node("Identity", [src], [name]))
        user = axes.get(name)
        if user is not None:
            dyn = [None] * o.ndim
            for ax, s in user.items():
                dyn[ax % max(o.ndim, 1)] = s
        dims = [
            n if d is None else (d if isinstance(d, str) and d != "?" else None)
            for d, n in zip(dyn, o.shape)
        ]
        vi = helper.make_tensor_value_info(name, onnx_dtype(o._data.dtype), dims)
        graph_outputs.append(vi)

    # Constants a converter made but did not use (a zero initial state left out, say).
    used = {i for n in g.nodes for i in n.input}
    inits = [t for name, t in g.initializers.items() if name in used]
    graph = helper.make_graph(
        g.nodes,
        getattr(model, "_get_name", lambda: type(model).__name__)(),
        graph_inputs,
        graph_outputs,
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", opset_version)]
    model_proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="chainrule",
        producer_version=_version(),
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(model_proto, full_check=True)
    _write_atomic(model_proto.SerializeToString(), path)


def _raise_unsupported(e: Exception, op_name: str, module: tuple, opset: int) -> None:
    from ._graph import Untraced

    op_name = e.op_name if isinstance(e, Untraced) else op_name
    path, cls = module
    where = f"module '{path}' ({cls})" if path else f"the top-level module ({cls})"
    raise UnsupportedOperatorError(
        f"onnx.export: op '{op_name}' used in {where} cannot be exported to ONNX opset {opset}: {e}"
    ) from None


def _default_dyn(g: Any, ev: Any, out: np.ndarray) -> tuple:
    """Dynamic axes of an output by broadcasting: an axis is dynamic when an input's
    right-aligned axis of the same size is."""
    from .._tensor import Tensor

    dyn: list = [None] * out.ndim
    for x in ev.inputs:
        if not isinstance(x, Tensor | np.ndarray):
            continue
        name = g.lookup(x)
        if name is None:
            continue
        shape = x.shape
        d = g.dyn.get(name, ())
        for k in range(1, min(len(shape), out.ndim) + 1):
            if k <= len(d) and d[-k] is not None and shape[-k] == out.shape[-k]:
                dyn[-k] = dyn[-k] or d[-k]
    return tuple(dyn)


def _version() -> str:
    from .._version import __version__

    return __version__


def _write_atomic(data: bytes, path: Any) -> None:
    """Write ``data`` to ``path`` via a temp file and ``os.replace`` (or to a file object)."""
    if hasattr(path, "write"):
        path.write(data)
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".onnx-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
