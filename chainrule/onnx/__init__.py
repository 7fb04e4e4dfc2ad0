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
import warnings
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


def _as_args(example_input: Any) -> tuple[tuple, dict]:
    """Positional args and keyword args (a trailing dict, as PyTorch's ``args``)."""
    from .._tensor import Tensor, tensor

    args = list(example_input) if isinstance(example_input, tuple | list) else [example_input]
    kwargs = dict(args.pop()) if args and isinstance(args[-1], Mapping) else {}
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            a = tensor(a)
        if not isinstance(a, Tensor):
            raise TypeError(
                f"onnx.export: example_input must be a Tensor or a tuple of Tensors (optionally "
                f"ending with a dict of keyword arguments), got {type(a).__name__}"
            )
        out.append(a)
    kwargs = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    if not out and not any(isinstance(v, Tensor) for v in kwargs.values()):
        raise TypeError("onnx.export: example_input has no tensors")
    return tuple(out), kwargs


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
    example_input: Any = None,
    path: Any = None,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    opset_version: int = DEFAULT_OPSET,
    verify: bool = False,
    args: Any = None,
    f: Any = None,
    export_params: bool = True,
    do_constant_folding: bool = True,
    verbose: Any = None,
    dynamo: bool = False,
) -> None:
    """Write ``model`` as an ONNX file that onnxruntime runs with the same outputs.

    The model runs on ``example_input`` in eval mode (its training flags are restored
    afterwards); every op it calls becomes ONNX nodes. When some axes are dynamic it runs once
    more with those axes twice as long, to see which sizes in the forward code (reshape
    targets, ``zeros(x.size(0), …)``, ``expand``) follow the inputs.

    Args:
        model: a ``chainrule.nn.Module`` (or any callable built from chainrule ops).
        example_input: a Tensor, or a tuple of Tensors passed as positional arguments; a
            trailing dict holds keyword arguments (its tensors become inputs named by key).
        path: file path (written atomically) or a writable binary file object.
        input_names / output_names: graph value names (default ``input``/``output``, or
            ``input_0``, ``input_1`` … when there are several).
        dynamic_axes: ``{name: {axis: axis_name}}`` or ``{name: [axis, …]}`` as in PyTorch.
            ``None`` makes axis 0 (the batch) of every input dynamic; sizes of other values that
            follow from it (outputs, reshapes) stay dynamic too. If the model's code fixes the
            batch size (a reshape that splits it, say), a warning says so and the shapes are
            exported fixed; ``{}`` asks for fixed shapes.

    Tracing records what one forward pass did: Python control flow and sizes read with
    ``.item()`` / ``.numpy()`` are frozen at their example values, as in ``torch.jit.trace``.
        opset_version: the ONNX opset to target (17 or newer).
        args / f: torch's names for ``example_input`` / ``path`` (keyword use). Also accepted
            for torch scripts and ignored: ``do_constant_folding``, ``verbose``, ``dynamo``;
            ``export_params`` must be True (weights are always stored in the file).
        verify: run the graph in onnxruntime on the example input and on the example with its
            batch reversed, compare with the model, and raise before writing on a mismatch
            (which means the forward pass computed something outside chainrule's ops).

    Raises:
        ImportError: the ``onnx`` extra is missing (``pip install chainrule[onnx]``).
        UnsupportedOperatorError: an op has no ONNX mapping; names the op and the module
            (by its path in the model) that called it. No file is written.
        ValueError: a bad ``opset_version`` or ``dynamic_axes`` entry.
        The model's own error (wrong input shape …) propagates unchanged, with no file.

    Example:
        >>> chainrule.onnx.export(model, chainrule.randn(1, 4), "model.onnx")  # doctest: +SKIP
    """
    if args is not None:
        if example_input is not None:
            raise TypeError("onnx.export: got both example_input and args")
        example_input = args
    if f is not None:
        if path is not None:
            raise TypeError("onnx.export: got both path and f")
        path = f
    if example_input is None or path is None:
        raise TypeError("onnx.export: missing example_input (args) or path (f)")
    if not export_params:
        raise ValueError("onnx.export: export_params=False is not supported (weights are stored)")
    del do_constant_folding, verbose, dynamo  # torch options with nothing to do here
    onnx = _require_onnx()

    from ._graph import DynamicUnsupported
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

    args, kwargs = _as_args(example_input)
    tensors = [a for a in args if isinstance(a, Tensor)] + [
        v for v in kwargs.values() if isinstance(v, Tensor)
    ]
    n_pos = sum(isinstance(a, Tensor) for a in args)
    defaults = _names(None, n_pos, "input") + [
        k for k, v in kwargs.items() if isinstance(v, Tensor)
    ]
    in_names = _names(input_names, len(tensors), "input")
    in_names = in_names[: len(input_names or [])] + defaults[len(input_names or []) :]

    # Parameters and buffers are found by identity (of the Tensor or of its ndarray).
    named: dict[int, str] = {}
    if hasattr(model, "named_parameters"):
        for key, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t is not None:
                named.setdefault(id(t), key)
                named.setdefault(id(t._data), key)

    axes: dict[str, dict[int, str]] = {}
    if dynamic_axes is None:
        axes = {n: {0: "batch"} for n, a in zip(in_names, tensors) if a.ndim}
    else:
        axes = {n: _axes_spec(spec, n) for n, spec in dynamic_axes.items()}

    def run(widen: bool, grow: bool = False) -> tuple:
        # Float inputs require grad so every op (even views) is recorded; eval mode.
        traced: dict[int, Any] = {}
        for n, a in zip(in_names, tensors):
            arr = a._data
            for ax in axes.get(n, {}) if widen else ():
                if -arr.ndim <= ax < arr.ndim and arr.shape[ax] == 1:
                    arr = np.repeat(arr, 2, axis=ax)
            for ax in axes.get(n, {}) if grow else ():
                if -arr.ndim <= ax < arr.ndim:
                    arr = np.concatenate([arr, arr], axis=ax)
            t = _make(arr)
            if arr.dtype.kind == "f":
                t.requires_grad = True
            traced[id(a)] = t
        t_args = [traced.get(id(a), a) for a in args]
        t_kwargs = {k: traced.get(id(v), v) for k, v in kwargs.items()}
        modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
        try:
            if hasattr(model, "eval"):
                model.eval()
            with tracing(model) as tracer, enable_grad():
                result = model(*t_args, **t_kwargs)
        finally:
            for m, mode in modes:
                m.training = mode
        return traced, tracer, result

    # A dynamic axis of size 1 is ambiguous in a trace ((L, 1, E) -> (L, E): which axis did the
    # reshape merge?), so such axes are traced at size 2; the example itself if that fails.
    widen = any(
        -a.ndim <= ax < a.ndim and a.shape[ax] == 1
        for n, a in zip(in_names, tensors)
        for ax in axes.get(n, {})
    )
    try:
        traced, tracer, result = run(widen)
    except Exception:
        if not widen:
            raise
        widen = False
        traced, tracer, result = run(False)
    outputs = flatten_outputs(result, lambda o: isinstance(o, Tensor))
    out_names = _names(output_names, len(outputs), "output")
    known = set(in_names) | set(out_names)
    for n in axes:
        if n not in known:
            raise ValueError(
                f"onnx.export: dynamic_axes names {n!r}, which is not an input or output "
                f"name ({sorted(known)})"
            )

    def build(traced: dict, tracer: Any, result: Any, alt: Any = None) -> _Build:
        outs = flatten_outputs(result, lambda o: isinstance(o, Tensor))
        inputs = [(n, traced[id(a)]) for n, a in zip(in_names, tensors)]
        b = _Build(model, tracer.events, inputs, list(zip(out_names, outs)), named, opset_version)
        if alt is not None:
            # A second trace with every dynamic axis twice as long: sizes that changed with it
            # (zeros(x.size(0), h), cls.expand(x.size(0), …)) are computed from the inputs.
            alt_traced, alt_tracer, _ = alt
            events = alt_tracer.events
            if len(events) == len(tracer.events) and all(
                e.opdef is f.opdef for e, f in zip(tracer.events, events)
            ):
                b.alt_events = events
                b.dim_sources = [
                    (n, ax % a.ndim, traced[id(a)].shape[ax], alt_traced[id(a)].shape[ax])
                    for n, a in zip(in_names, tensors)
                    for ax in axes.get(n, {})
                    if -a.ndim <= ax < a.ndim
                ]
        return b

    alt = None
    if any(axes.get(n) for n in in_names):
        try:
            alt = run(widen, grow=True)
        except Exception:  # the model only runs at the example's sizes: no second trace
            alt = None
    builder = build(traced, tracer, result, alt)
    try:
        model_proto = builder.run(axes)
    except DynamicUnsupported as e:
        if dynamic_axes is not None:
            builder.fail(e)
        # The default dynamic batch cannot be kept through this model: export fixed shapes
        # (those of the example itself, so trace it as given).
        warnings.warn(
            f"onnx.export: the batch axis cannot stay dynamic ({e}); exporting fixed input "
            f"shapes. Pass dynamic_axes={{}} to ask for fixed shapes explicitly.",
            stacklevel=2,
        )
        if widen:
            builder = build(*run(False))
        model_proto = builder.run({})
    onnx.checker.check_model(model_proto, full_check=True)
    data = model_proto.SerializeToString()
    if verify:
        _verify(data, model, args, kwargs, in_names, len(outputs))
    _write_atomic(data, path)


def _verify(data: bytes, model: Any, args: tuple, kwargs: dict, names: list, n_out: int) -> None:
    """Compare onnxruntime with the model on the example and on a batch-reversed example."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError(
            "onnx.export(verify=True) needs onnxruntime: pip install chainrule[onnx]"
        ) from e
    from .._tensor import Tensor, _make
    from ..autograd.grad_mode import no_grad
    from ._trace import flatten_outputs

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])

    def flip(t: Any) -> Any:
        return _make(np.ascontiguousarray(t._data[::-1])) if isinstance(t, Tensor) and t.ndim else t

    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    try:
        if hasattr(model, "eval"):
            model.eval()
        for variant in (lambda t: t, flip):
            a = tuple(variant(x) for x in args)
            kw = {k: variant(v) for k, v in kwargs.items()}
            with no_grad():
                want = flatten_outputs(model(*a, **kw), lambda o: isinstance(o, Tensor))
            feeds = [x for x in (*a, *kw.values()) if isinstance(x, Tensor)]
            got = sess.run(None, {n: x._data for n, x in zip(names, feeds)})
            for k, (w, o) in enumerate(zip(want, got[:n_out])):
                w = w._data
                ok = w.shape == o.shape and np.allclose(o, w, rtol=1e-3, atol=1e-4, equal_nan=True)
                if not ok:
                    where = "a reordered batch" if variant is flip else "the example"
                    diff = np.max(np.abs(o - w)) if o.shape == w.shape else "shape"
                    raise OnnxExporterError(
                        f"onnx.export(verify=True): output {k} of the ONNX graph differs from "
                        f"the model's on {where} (max abs difference {diff}): the forward pass "
                        f"computes something outside chainrule's ops (NumPy, .item(), "
                        f"data-dependent control flow), which the graph froze"
                    )
    finally:
        for m, mode in modes:
            m.training = mode


class _Build:
    """Turns traced events into a ModelProto for one choice of dynamic axes."""

    def __init__(self, model, events, inputs, outputs, named, opset) -> None:
        self.model, self.events, self.inputs, self.outputs = model, events, inputs, outputs
        self.named, self.opset = named, opset
        self.alt_events: list | None = None
        self.dim_sources: list = []
        self._where: tuple = ("", type(model).__name__, "output")

    def fail(self, e: Exception) -> None:
        """Raise the user-facing error for ``e`` at the op being converted."""
        path, cls, op_name = self._where
        _raise_unsupported(e, op_name, (path, cls), self.opset)

    def run(self, axes: dict[str, dict[int, str]]) -> Any:
        """The checked-ready ModelProto; raises DynamicUnsupported to allow a static retry."""
        from onnx import helper

        from . import _converters
        from ._graph import DynamicUnsupported, GraphBuilder, Unsupported, onnx_dtype

        g = GraphBuilder(self.opset, self.named)
        graph_inputs = []
        for name, t in self.inputs:
            g.reserve(name)
            spec = axes.get(name, {})
            for ax in spec:
                if not -t.ndim <= ax < max(t.ndim, 1):
                    raise ValueError(f"onnx.export: dynamic axis {ax} is out of range for {name!r}")
            spec = {ax % t.ndim: v for ax, v in spec.items()} if t.ndim else {}
            g.bind(t, name, tuple(spec.get(i) for i in range(t.ndim)))
            g.live.add(name)
            for ax, sym in spec.items():
                g.symbols.setdefault(sym, (name, [ax]))
            dims = [spec.get(i, n) for i, n in enumerate(t.shape)]
            dt = onnx_dtype(t._data.dtype)
            graph_inputs.append(helper.make_tensor_value_info(name, dt, dims))
        for name, _ in self.outputs:
            g.reserve(name)

        from .._tensor import Tensor

        dynamic = {(n, ax % max(t.ndim, 1)) for n, t in self.inputs for ax in axes.get(n, {})}
        g.dim_sources = [s for s in self.dim_sources if (s[0], s[1]) in dynamic]
        alt_events = self.alt_events if g.dim_sources else None
        for i, ev in enumerate(self.events):
            self._where = (*ev.module, ev.opdef.name)
            g.state = ev.states
            if alt_events is not None:
                evb = alt_events[i]
                g.alt_event = evb
                here = (*ev.inputs, *ev.params.values())
                there = (*evb.inputs, *evb.params.values())
                g.alt = {
                    id(x): y
                    for x, y in zip(here, there)
                    if isinstance(x, Tensor | np.ndarray) and type(y) is type(x)
                }
            try:
                names = _converters.convert(g, ev)
            except DynamicUnsupported:
                raise
            except Unsupported as e:
                self.fail(e)
            except Exception as e:  # a converter bug: still say which op and module
                path, cls = ev.module
                where = f"module '{path}' ({cls})" if path else f"the top-level module ({cls})"
                raise OnnxExporterError(
                    f"onnx.export: converting op '{ev.opdef.name}' used in {where} failed: "
                    f"{type(e).__name__}: {e}"
                ) from e
            if any(n in g.live for n in _traced_names(g, ev)):
                g.live.update(n for n in names if n not in g.initializers)
            for o, name in zip(ev.outputs, names):
                dyn = g.dyn.get(name)
                if dyn is None or len(dyn) != o._data.ndim:
                    dyn = _default_dyn(g, ev, o._data)
                g.bind(o, name, dyn)

        self._where = ("", type(self.model).__name__, "output")
        g.state = {}
        graph_outputs = []
        for name, o in self.outputs:
            src = g.lookup(o)
            if src is None:
                try:
                    src = g.value(o)  # an output that no op produced (e.g. a parameter)
                except Unsupported as e:
                    self.fail(e)
            if src not in g.live and src not in g._key_names.values() and self.inputs:
                warnings.warn(
                    f"onnx.export: output {name!r} does not depend on the inputs, so the graph "
                    f"returns a constant (was it computed outside chainrule's ops, e.g. with "
                    f"NumPy?)",
                    stacklevel=3,
                )
            dyn = list(g.dyn.get(src, (None,) * o.ndim))
            g.nodes.append(helper.make_node("Identity", [src], [name]))
            user = axes.get(name)
            if user is not None:
                dyn = [None] * o.ndim
                for ax, v in user.items():
                    dyn[ax % max(o.ndim, 1)] = v
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
            getattr(self.model, "_get_name", lambda: type(self.model).__name__)(),
            graph_inputs,
            graph_outputs,
            initializer=inits,
        )
        opsets = [helper.make_opsetid("", self.opset)]
        return helper.make_model(
            graph,
            opset_imports=opsets,
            producer_name="chainrule",
            producer_version=_version(),
            ir_version=helper.find_min_ir_version_for(opsets),
        )


def _raise_unsupported(e: Exception, op_name: str, module: tuple, opset: int) -> None:
    from ._graph import Untraced

    op_name = e.op_name if isinstance(e, Untraced) else op_name
    path, cls = module
    where = f"module '{path}' ({cls})" if path else f"the top-level module ({cls})"
    raise UnsupportedOperatorError(
        f"onnx.export: op '{op_name}' used in {where} cannot be exported to ONNX opset {opset}: {e}"
    ) from None


def _traced_names(g: Any, ev: Any) -> list[str]:
    """Names of the traced values an op read (tensor inputs and array settings)."""
    from ._graph import Unsupported

    names = []
    for x in (*ev.inputs, *ev.params.values()):
        try:
            name = g.lookup(x)
        except Unsupported:
            name = None
        if name is not None:
            names.append(name)
    return names


def _default_dyn(g: Any, ev: Any, out: np.ndarray) -> tuple:
    """Dynamic axes of an output by broadcasting: an axis is dynamic when an input's
    right-aligned axis of the same size is."""
    from .._tensor import Tensor

    dyn: list = [None] * out.ndim
    # array settings (where's condition, masks) broadcast with the inputs too
    params = [p for p in ev.params.values() if isinstance(p, np.ndarray)]
    for x in (*ev.inputs, *params):
        if not isinstance(x, Tensor | np.ndarray):
            continue
        name = g.lookup(x)
        if name is None:
            continue
        shape = tuple(x.shape)
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
    # Checked here so the error names the user's path, not the temporary file.
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"onnx.export: the directory of {path!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"onnx.export: {path!r} is a directory; give a file path")
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
