"""Gradient health: per-layer evidence and verdicts with advice (one batch, or over training).

``health(model, (x, y), loss_fn)`` runs one forward/backward and measures, per layer: the
gradient norm of its parameters, the gradient arriving at its output relative to the output
layer's (the "gradient flow"), the update/parameter ratio (with an optimizer or ``lr``), the
fraction of dead ReLU units, the saturation of sigmoid/tanh units and activation statistics.
From those it gives verdicts — vanishing, exploding, dead units, saturated, update too large or
too small, or healthy — each with the numbers behind it and concrete advice.

``GradientHealthMonitor`` does the same across training steps (the ``GradientMonitor``
callback drives it) and adds the time dimension: a gradient norm that grows by orders of
magnitude is "exploding".
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import _plot

__all__ = [
    "health",
    "HealthReport",
    "LayerHealth",
    "Verdict",
    "GradientHealthMonitor",
    "THRESHOLDS",
]

# Defaults; every one can be overridden per call (``thresholds={...}``).
THRESHOLDS: dict[str, float] = {
    "vanishing_ratio": 1e-4,  # a layer receives < this fraction of the output layer's gradient
    "vanishing_abs": 1e-10,  # or the whole gradient is this small while the loss is not
    "exploding_ratio": 1e4,  # a layer receives > this multiple of the output layer's gradient
    "exploding_growth": 100.0,  # (monitor) the gradient norm grew this much over the window
    "exploding_norm": 1e6,  # a global gradient norm above this is exploding on its own
    "dead_fraction": 0.5,  # ReLU units that are zero for every sample in the batch
    "saturated_fraction": 0.5,  # sigmoid/tanh outputs within 1 % of their bounds
    "update_large": 0.25,  # |Δw| / |w| per step (Adam's first steps on small layers reach ≈ 0.1)
    "update_small": 1e-6,
}

_ACT_OPS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_ACT_MODULES = {"ReLU": "relu", "ReLU6": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
# |pre-activation| beyond which the output is within 1 % of its bound.
_SAT_Z = {"sigmoid": math.log(99.0), "tanh": math.atanh(0.99)}


@dataclass
class LayerHealth:
    """Measurements for one layer (a module with parameters, or an activation)."""

    name: str
    kind: str
    grad_norm: float | None = None
    param_norm: float | None = None
    grad_flow: float | None = None  # RMS of ∂L/∂output relative to the output layer's
    out_grad_rms: float | None = None
    update_ratio: float | None = None
    dead_fraction: float | None = None
    saturation: float | None = None
    act_mean: float | None = None
    act_std: float | None = None
    act_min: float | None = None
    act_max: float | None = None


@dataclass
class Verdict:
    """One finding: kind, the layers it concerns, the evidence (numbers) and the advice."""

    kind: str  # vanishing | exploding | dead units | saturated | update too large/small | healthy
    layers: list[str]
    evidence: str
    advice: str
    severity: str = "warning"

    def __str__(self) -> str:
        where = f" [{_span(self.layers)}]" if self.layers else ""
        return f"{self.kind.upper()}{where}: {self.evidence}\n    advice: {self.advice}"


def _span(names: list[str]) -> str:
    if len(names) <= 4:
        return ", ".join(names)
    return f"{names[0]} … {names[-1]} ({len(names)} layers)"


@dataclass
class HealthReport:
    """The result of ``health`` or ``GradientHealthMonitor.report()``.

    ``str(report)`` is the text report; ``to_dict()`` plain data; ``plot()`` the gradient flow.
    ``verdicts`` is never empty: it holds ``healthy`` when nothing was flagged.
    """

    layers: list[LayerHealth]
    verdicts: list[Verdict]
    loss: float | None = None
    grad_norm: float | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when the only verdict is ``healthy``."""
        return all(v.kind == "healthy" for v in self.verdicts)

    @property
    def kinds(self) -> list[str]:
        """The verdict kinds, e.g. ``['vanishing']`` or ``['healthy']``."""
        return [v.kind for v in self.verdicts]

    def warnings(self) -> list[Verdict]:
        """The verdicts other than ``healthy``."""
        return [v for v in self.verdicts if v.kind != "healthy"]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "loss": self.loss,
            "grad_norm": self.grad_norm,
            "layers": [asdict(layer) for layer in self.layers],
            "verdicts": [asdict(v) for v in self.verdicts],
            "timeline": list(self.timeline),
        }

    def save(self, path: Any) -> None:
        """Write ``to_dict()`` as JSON (``health.json`` in a run directory feeds the report)."""
        import json
        from pathlib import Path

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)  # JSON has no nan/inf
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            return v

        Path(path).write_text(json.dumps(clean(self.to_dict()), indent=1))

    def table(self) -> str:
        """Per-layer measurements as a text table."""
        cols = [
            ("layer", lambda r: r.name),
            ("kind", lambda r: r.kind),
            ("|grad|", lambda r: _f(r.grad_norm)),
            ("|w|", lambda r: _f(r.param_norm)),
            ("flow", lambda r: _f(r.grad_flow)),
            ("upd/w", lambda r: _f(r.update_ratio)),
            ("dead", lambda r: _pct(r.dead_fraction)),
            ("sat", lambda r: _pct(r.saturation)),
            ("act mean±std", lambda r: _ms(r.act_mean, r.act_std)),
        ]
        rows = [[c[0] for c in cols]] + [[fn(r) for _, fn in cols] for r in self.layers]
        w = [max(len(row[i]) for row in rows) for i in range(len(cols))]
        lines = ["  ".join(c.ljust(wi) for c, wi in zip(row, w)) for row in rows]
        lines.insert(1, "  ".join("-" * wi for wi in w))
        return "\n".join(lines)

    def __str__(self) -> str:
        head = "Gradient health"
        if self.loss is not None:
            head += f" (loss {self.loss:.6g}"
            head += f", global |grad| {self.grad_norm:.3g})" if self.grad_norm is not None else ")"
        parts = [head, "", self.table(), "", "Verdicts:"]
        parts += [f"  {v}" for v in self.verdicts]
        return "\n".join(parts)

    def plot(self, path: Any = None) -> Any:
        """Bar chart of the gradient reaching each layer (log scale); needs matplotlib."""
        fig, ax = _plot.new_figure(max(6.0, 0.35 * len(self.layers)), 3.8)
        names, vals = self.flow_series()
        ax.bar(range(len(vals)), [v if v > 0 else np.nan for v in vals], color="#1f77b4")
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("|∂L/∂output| (RMS)" if self._has_flow() else "|∂L/∂w|")
        ax.set_title("gradient flow per layer (input → output)")
        thr = THRESHOLDS["vanishing_ratio"]
        if vals and self._has_flow():
            ax.axhline(vals[-1] * thr, color="red", ls="--", lw=1, label="vanishing threshold")
            ax.legend(fontsize=7)
        return _plot.finish(fig, path)

    def _has_flow(self) -> bool:
        return any(r.out_grad_rms is not None for r in self.layers if r.grad_norm is not None)

    def flow_series(self) -> tuple[list[str], list[float]]:
        """(layer names, gradient magnitude) of the parameter layers, input → output."""
        rows = [r for r in self.layers if r.grad_norm is not None]
        if self._has_flow():
            return [r.name for r in rows], [r.out_grad_rms or 0.0 for r in rows]
        return [r.name for r in rows], [r.grad_norm or 0.0 for r in rows]


def _layers_recv(names: list[str]) -> str:
    return f"layer {names[0]} receives" if len(names) == 1 else f"layers {_span(names)} receive"


def _f(v: float | None) -> str:
    return "" if v is None else f"{v:.3g}"


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.0f}%"


def _ms(m: float | None, s: float | None) -> str:
    return "" if m is None else f"{m:.3g}±{s:.3g}"


# --------------------------------------------------------------------------- measurement


def _param_layers(model: Any) -> list[tuple[str, Any, list]]:
    """(name, module, [(param_name, param)]) for every module owning parameters directly."""
    out = []
    for name, mod in model.named_modules():
        ps = [(n, p) for n, p in mod.named_parameters(recurse=False) if p.requires_grad]
        if ps:
            out.append((name or type(mod).__name__, mod, ps))
    return out


def _units_axis_stats(kind: str, x: np.ndarray) -> tuple[float | None, float | None]:
    """(dead fraction, saturation) from a pre-activation ``x`` of shape (N, C, …)."""
    if kind == "relu":
        if x.ndim >= 2:
            alive = (x > 0).any(axis=tuple(i for i in range(x.ndim) if i != 1))
            return 1.0 - float(alive.mean()), None
        return 1.0 - float((x > 0).any()), None
    thr = _SAT_Z[kind]
    return None, float((np.abs(x) > thr).mean()) if x.size else 0.0


def _act_stats(kind: str, out: np.ndarray) -> tuple[float | None, float | None]:
    """Same as ``_units_axis_stats`` but from the activation's *output*."""
    if kind == "relu":
        return _units_axis_stats("relu", out)
    if kind == "sigmoid":
        return None, float(((out < 0.01) | (out > 0.99)).mean()) if out.size else 0.0
    return None, float((np.abs(out) > 0.99).mean()) if out.size else 0.0


class _Recorder:
    """Forward hooks: activation stats of every leaf module, the output gradient of param
    layers, and which autograd node each activation module produced."""

    def __init__(self, model: Any, with_grad_hooks: bool = True, gate: Any = None) -> None:
        self.model = model
        self.gate = gate  # () -> bool: measure this forward? (None: always)
        self.forwards = 0  # grad-enabled forwards of the whole model (≈ training steps)
        self.order: list[str] = []
        self.stats: dict[str, dict[str, Any]] = {}
        self.node_names: dict[int, str] = {}
        self.out_grad: dict[str, float] = {}
        self.handles: list = []
        self.with_grad_hooks = with_grad_hooks
        param_owners = {id(m) for _, m, _ in _param_layers(model)}
        if hasattr(model, "register_forward_pre_hook"):
            self.handles.append(model.register_forward_pre_hook(self._count))
        for name, mod in model.named_modules():
            if not name:
                continue
            leaf = not any(True for _ in mod.children())
            if leaf or id(mod) in param_owners:
                self.handles.append(
                    mod.register_forward_hook(self._hook(name, mod, id(mod) in param_owners))
                )

    def _count(self, module: Any, args: Any) -> None:
        from ..autograd.grad_mode import state

        if state.enabled:
            self.forwards += 1

    def _hook(self, name: str, mod: Any, owns: bool) -> Any:
        from .._tensor import Tensor

        kind = _ACT_MODULES.get(type(mod).__name__)

        def hook(m: Any, inp: Any, out: Any) -> None:
            if not isinstance(out, Tensor) or out._data.dtype.kind != "f":
                return
            if self.gate is not None and not self.gate():
                return
            if name not in self.stats:
                self.order.append(name)
            a = out._data
            fin = a[np.isfinite(a)]
            st = {
                "type": type(m).__name__,
                "act_mean": float(fin.mean()) if fin.size else float("nan"),
                "act_std": float(fin.std()) if fin.size else float("nan"),
                "act_min": float(fin.min()) if fin.size else float("nan"),
                "act_max": float(fin.max()) if fin.size else float("nan"),
            }
            if kind is not None:
                st["kind"] = kind
                st["dead_fraction"], st["saturation"] = _act_stats(kind, a)
                if out.grad_fn is not None:
                    self.node_names[id(out.grad_fn)] = name
            self.stats[name] = st
            if owns and self.with_grad_hooks and out.requires_grad:

                def ghook(g: Any) -> None:
                    gd = g._data
                    self.out_grad[name] = float(np.sqrt(np.mean(np.square(gd, dtype=np.float64))))

                out.register_hook(ghook)

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def _from_act_stats(name: str, st: dict) -> LayerHealth:
    """A layer's row from the activation statistics the recorder collected for it."""
    return LayerHealth(
        name=name,
        kind=st.get("kind") or st.get("type", ""),
        dead_fraction=st.get("dead_fraction"),
        saturation=st.get("saturation"),
        act_mean=st.get("act_mean"),
        act_std=st.get("act_std"),
        act_min=st.get("act_min"),
        act_max=st.get("act_max"),
    )


def _fraction_verdict(
    layers: list[LayerHealth],
    attr: str,
    threshold: float,
    kind: str,
    what: str,
    why: str,
    fix: str,
) -> list[Verdict]:
    """One verdict naming the layers whose unit fraction ``attr`` is at least ``threshold``."""
    hit = [r for r in layers if getattr(r, attr) is not None and getattr(r, attr) >= threshold]
    if not hit:
        return []
    ev = ", ".join(f"{r.name}: {100 * getattr(r, attr):.0f}% {what}" for r in hit)
    return [Verdict(kind, [r.name for r in hit], f"{ev} ({why})", fix)]


def _analyse(
    layers: list[LayerHealth],
    thr: dict[str, float],
    loss: float | None,
    grad_norm: float | None,
    lr: float | None,
    growth: tuple[float, int] | None = None,
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    plist = [r for r in layers if r.grad_norm is not None]
    finite = grad_norm is not None and math.isfinite(grad_norm)
    lr_hint = f"{lr / 10:.3g}" if lr else "a tenth of the current value"

    # Exploding: non-finite, a huge norm, or (monitor) fast growth.
    reasons = []
    if grad_norm is not None and not finite:
        reasons.append(f"the gradient has nan/inf (global norm {grad_norm})")
    elif finite and grad_norm > thr["exploding_norm"]:
        reasons.append(f"global gradient norm is {grad_norm:.3g}")
    if loss is not None and not math.isfinite(loss):
        reasons.append(f"the loss is {loss}")
    if growth is not None and growth[0] >= thr["exploding_growth"]:
        reasons.append(f"gradient norm grew {growth[0]:.3g}× in {growth[1]} steps")
    flows = [(r.name, r.grad_flow) for r in plist if r.grad_flow is not None]
    big = [n for n, f in flows if math.isfinite(f) and f > thr["exploding_ratio"]]
    if big:
        worst = max(f for n, f in flows if n in big)
        reasons.append(f"{_layers_recv(big)} up to {worst:.3g}× the output layer's gradient")
    if reasons:
        verdicts.append(
            Verdict(
                "exploding",
                big or [r.name for r in plist],
                "; ".join(reasons),
                f"lower the learning rate to ≈ {lr_hint}, clip gradients "
                "(nn.utils.clip_grad_norm_(model.parameters(), 1.0)), and check the "
                "initialisation scale (Xavier/He) and the input normalisation",
                "error",
            )
        )

    # Vanishing: the gradient reaching early layers is a tiny fraction of the output layer's.
    small = [n for n, f in flows if f is not None and f < thr["vanishing_ratio"]]
    if small and not reasons:
        worst = min(f for n, f in flows if n in small)
        verdicts.append(
            Verdict(
                "vanishing",
                small,
                f"{_layers_recv(small)} < {thr['vanishing_ratio']:.0e} of the output "
                f"layer's gradient (smallest: {worst:.3g}×)",
                "use ReLU/GELU with He (kaiming) init instead of sigmoid/tanh, add normalisation "
                "(BatchNorm/LayerNorm) or residual connections, or make the network shallower",
            )
        )
    elif (
        finite
        and grad_norm is not None
        and grad_norm < thr["vanishing_abs"]
        and loss is not None
        and abs(loss) > 1e-6
    ):
        verdicts.append(
            Verdict(
                "vanishing",
                [r.name for r in plist],
                f"the global gradient norm is {grad_norm:.3g} while the loss is {loss:.3g}",
                "check for saturated activations or dead units, use ReLU/GELU with He init, "
                "and normalise the inputs",
            )
        )

    verdicts += _fraction_verdict(
        layers,
        "dead_fraction",
        thr["dead_fraction"],
        "dead units",
        "dead",
        "zero output for every sample in the batch, so they get no gradient",
        "lower the learning rate, initialise biases at 0 (or small positive), use He "
        "init, or switch to LeakyReLU/GELU so negative inputs still pass a gradient",
    )
    verdicts += _fraction_verdict(
        layers,
        "saturation",
        thr["saturated_fraction"],
        "saturated",
        "saturated",
        "outputs within 1% of their bounds, where the derivative is ≈ 0",
        "normalise the inputs, use smaller initial weights (Xavier init), add "
        "normalisation before the activation, or use ReLU/GELU",
    )
    upd = [r for r in plist if r.update_ratio is not None]
    large = [r for r in upd if r.update_ratio > thr["update_large"]]
    if large and "exploding" not in [v.kind for v in verdicts]:
        ev = ", ".join(f"{r.name}: {r.update_ratio:.3g}" for r in large)
        verdicts.append(
            Verdict(
                "update too large",
                [r.name for r in large],
                f"update/weight ratio {ev} (healthy ≈ 1e-3)",
                f"lower the learning rate (to ≈ {lr_hint}) or clip gradients",
            )
        )
    tiny = [r for r in upd if 0 <= r.update_ratio < thr["update_small"]]
    if tiny and not small:
        ev = ", ".join(f"{r.name}: {r.update_ratio:.3g}" for r in tiny)
        hint = f"{lr * 10:.3g}" if lr else "10× the current value"
        verdicts.append(
            Verdict(
                "update too small",
                [r.name for r in tiny],
                f"update/weight ratio {ev} (healthy ≈ 1e-3): these weights barely move",
                f"raise the learning rate (to ≈ {hint}) or use an adaptive optimizer (Adam)",
            )
        )
    if not verdicts:
        ev = "no vanishing/exploding gradient, dead or saturated units"
        if flows:
            fs = [f for _, f in flows if f is not None]
            ev += f"; gradient flow between {min(fs):.3g}× and {max(fs):.3g}× of the output's"
        verdicts.append(Verdict("healthy", [], ev, "nothing to change", "info"))
    return verdicts


def _norm(arrs: list[np.ndarray]) -> float:
    return float(math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrs)))


def _loss_value(loss: Any) -> float | None:
    if loss is None:
        return None
    if hasattr(loss, "_data"):
        return float(np.asarray(loss._data, np.float64).reshape(-1)[0])
    return float(loss)


def _lr_of(optimizer: Any) -> float | None:
    try:
        return float(optimizer.param_groups[0]["lr"])
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def _unpack(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, dict):
        return batch.get("input", batch.get("x")), batch.get("target", batch.get("y"))
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"batch must be an (input, target) pair, got {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, list | tuple) else "")
    )


def _as_tensor(value: Any, float_dtype: Any) -> Any:
    from .._tensor import _make

    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f":
        value = value.astype(float_dtype)
    elif value.dtype.kind in "iu":
        value = value.astype(np.int64)
    return _make(np.ascontiguousarray(value))


def health(
    model: Any,
    batch: Any,
    loss_fn: Any,
    *,
    optimizer: Any = None,
    lr: float | None = None,
    thresholds: dict[str, float] | None = None,
) -> HealthReport:
    """The gradient-health report of ``model`` on one ``(x, y)`` batch.

    Runs one forward and backward (the parameters' ``.grad`` are restored afterwards, and so are
    the weights: with ``optimizer`` one step is taken to measure the update/parameter ratio, then
    undone, optimizer state included). Without an optimizer, ``lr`` gives an SGD estimate of the
    update ratio (lr·|grad|/|w|); with neither the update verdicts are skipped.
    """
    from .. import autograd
    from ..autograd import engine

    thr = {**THRESHOLDS, **(thresholds or {})}
    unknown = set(thresholds or {}) - set(THRESHOLDS)
    if unknown:
        raise KeyError(f"unknown thresholds {sorted(unknown)}; known: {sorted(THRESHOLDS)}")
    x, y = _unpack(batch)
    layers_p = _param_layers(model)
    if not layers_p:
        raise ValueError("health: the model has no parameters that require grad")
    # NumPy batches (as fit accepts them): floats in the model's dtype, integers as int64.
    dtype = next(iter(p._data.dtype for _, _, ps in layers_p for _, p in ps), np.float32)
    x, y = (_as_tensor(v, dtype) for v in (x, y))
    saved_grads = {id(p): p.grad for _, _, ps in layers_p for _, p in ps}

    def restore_grads() -> None:
        for _, _, ps in layers_p:
            for _, p in ps:
                p.grad = saved_grads[id(p)]

    rec = _Recorder(model)
    func_acts: dict[int, tuple[str, float | None, float | None]] = {}
    counter = {"n": 0}

    def observer(node: Any, g_out: Any, g_ins: Any) -> None:
        kind = _ACT_OPS.get(node.opdef.name)
        if kind is None or not node.inputs or node.inputs[0] is None:
            return
        counter["n"] += 1
        d, s = _units_axis_stats(kind, node.inputs[0]._data)
        func_acts[id(node)] = (kind, d, s)

    engine.add_observer(observer)
    try:
        with autograd.enable_grad():
            out = model(x)
            loss = loss_fn(out, y)  # a shape mismatch raises here, before any state changes
            for _, _, ps in layers_p:
                for _, p in ps:
                    p.grad = None
            try:
                loss.backward()
            except BaseException:
                restore_grads()
                raise
    finally:
        engine.remove_observer(observer)
        rec.remove()
    lossv = _loss_value(loss)

    grads = {name: [p.grad._data for _, p in ps if p.grad is not None] for name, _, ps in layers_p}
    rows: dict[str, LayerHealth] = {}
    order = [n for n in rec.order]
    for name, _, _ in layers_p:
        if name not in rec.stats:
            order.append(name)
    for name in order:
        rows[name] = _from_act_stats(name, rec.stats.get(name, {}))
    for name, mod, ps in layers_p:
        r = rows[name]
        r.kind = type(mod).__name__
        r.grad_norm = _norm(grads[name])
        r.param_norm = _norm([p._data for _, p in ps])
        r.out_grad_rms = rec.out_grad.get(name)
    # Functional activations (F.relu in a custom forward) found only by the observer.
    named_nodes = set(rec.node_names)
    k = 0
    for nid, (kind, d, s) in func_acts.items():
        if nid in named_nodes:
            continue
        k += 1
        rows[f"{kind}#{k} (functional)"] = LayerHealth(
            name=f"{kind}#{k} (functional)", kind=kind, dead_fraction=d, saturation=s
        )
    # Gradient flow relative to the output-most parameter layer.
    plist = [rows[n] for n, _, _ in layers_p]
    ordered = [rows[n] for n in order if rows[n].grad_norm is not None]
    ref = next((r.out_grad_rms for r in reversed(ordered) if r.out_grad_rms), None)
    if ref is None:
        ref_row = next((r for r in reversed(ordered) if r.grad_norm), None)
        ref_g = ref_row.grad_norm if ref_row is not None else None
        for r in plist:
            r.grad_flow = r.grad_norm / ref_g if ref_g else None
    else:
        for r in plist:
            if r.out_grad_rms is not None:
                r.grad_flow = r.out_grad_rms / ref
    global_norm = _norm([g for gs in grads.values() for g in gs])

    effective_lr = lr if lr is not None else _lr_of(optimizer)
    if optimizer is not None:
        _measure_update(optimizer, layers_p, rows)
    elif lr is not None:
        for r in plist:
            if r.param_norm:
                r.update_ratio = lr * (r.grad_norm or 0.0) / r.param_norm
    restore_grads()
    all_rows = [rows[n] for n in order] + [r for n, r in rows.items() if n not in order]
    verdicts = _analyse(all_rows, thr, lossv, global_norm, effective_lr)
    return HealthReport(all_rows, verdicts, lossv, global_norm)


def _measure_update(optimizer: Any, layers_p: list, rows: dict[str, LayerHealth]) -> None:
    """Take one optimizer step, measure |Δw|/|w| per layer, then undo it (state included)."""
    state = copy.deepcopy(optimizer.state_dict())
    before = {id(p): p._data.copy() for _, _, ps in layers_p for _, p in ps}
    try:
        optimizer.step()
        for name, _, ps in layers_p:
            d = _norm([p._data - before[id(p)] for _, p in ps])
            w = _norm([before[id(p)] for _, p in ps])
            rows[name].update_ratio = d / w if w else None
    finally:
        for _, _, ps in layers_p:
            for _, p in ps:
                p._data[...] = before[id(p)]
        optimizer.load_state_dict(state)


# ------------------------------------------------------------------------------- monitor


class GradientHealthMonitor:
    """Gradient health across training steps; what the ``GradientMonitor`` callback drives.

    Interface (call order inside a training step)::

        monitor = GradientHealthMonitor(model, optimizer=opt, every=1, window=30)
        # (forward hooks for activation stats are attached at construction; attach=False
        #  skips them, detach() removes them)
        for step, (x, y) in enumerate(loader):
            loss = loss_fn(model(x), y)
            opt.zero_grad(); loss.backward()
            monitor.on_backward(model, step, loss)   # after backward, before optimizer.step()
            opt.step()
            monitor.on_step(model, step)             # after optimizer.step(): update ratios
        report = monitor.report()         # HealthReport: per-layer table, verdicts, timeline
        monitor.detach()

    ``on_backward`` records per-layer gradient norms (every ``every`` steps; default 1, or
    learned from the gaps between ``observe`` calls) and snapshots the
    weights; ``on_step`` measures |Δw|/|w|. ``timeline`` (list of per-step dicts: step, loss,
    grad_norm, per-layer norms and update ratios) is what the HTML report plots.
    ``report()`` judges the last ``window`` steps: growth of the global gradient norm by
    ``exploding_growth``× or any nan/inf ⇒ exploding; the latest per-layer flow/activation stats
    give the other verdicts.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any = None,
        *,
        every: int | None = None,
        window: int = 30,
        thresholds: dict[str, float] | None = None,
        attach: bool = True,
    ) -> None:
        if every is not None and every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        unknown = set(thresholds or {}) - set(THRESHOLDS)
        if unknown:
            raise KeyError(f"unknown thresholds {sorted(unknown)}; known: {sorted(THRESHOLDS)}")
        self.model = model
        self.optimizer = optimizer
        self._infer_every = every is None  # observe() then learns it from the step gaps
        self.every = every or 1
        self.window = window
        self.thresholds = {**THRESHOLDS, **(thresholds or {})}
        self.timeline: list[dict[str, Any]] = []
        self._rec: _Recorder | None = None
        self._before: dict[int, np.ndarray] | None = None
        self._pending: dict[str, Any] | None = None
        self._n = 0
        self._layers: list = []
        self._last_step = -1
        self._fw_at_last = 0
        if attach:
            self.attach()

    def attach(self) -> GradientHealthMonitor:
        """Install forward hooks (activation stats, dead/saturated units, gradient flow).

        They measure only the training forwards of sampled steps (every ``every``-th
        grad-enabled forward of the model), so unsampled steps cost nothing extra.
        """
        if self._rec is None:
            self._rec = _Recorder(self.model, gate=self._gate)
        return self

    def _gate(self) -> bool:
        rec = self._rec
        if rec is None:
            return False
        from ..autograd.grad_mode import state

        if not state.enabled:
            return False
        # The step this forward belongs to: the last step seen in on_backward plus the training
        # forwards since (self-correcting at every on_backward call).
        est = self._last_step + (rec.forwards - self._fw_at_last)
        return est % self.every == 0

    def observe(self, state: Any) -> None:
        """Callback adapter: ``on_backward(state.model, state.step, state.batch_loss)``.

        For callbacks that only call in after backward: the update ratio of a step is then
        measured at the next observation (|Δw|/|w| divided by the steps in between).
        """
        if self.optimizer is None:
            self.optimizer = getattr(state, "optimizer", None)
        step = getattr(state, "step", None)
        if self._infer_every and step is not None and self.timeline:
            # Learn the caller's sampling period so the forward hooks measure only those steps.
            gap = int(step) - int(self.timeline[-1]["step"])
            if gap > 0:
                self.every = gap
        loss = getattr(state, "batch_loss", None)
        self.on_backward(getattr(state, "model", None), getattr(state, "step", None), loss)

    def detach(self) -> None:
        """Remove the hooks."""
        if self._rec is not None:
            self._rec.remove()
            self._rec = None

    def on_backward(self, model: Any = None, step: int | None = None, loss: Any = None) -> None:
        """Record gradient norms after ``backward()``, before ``optimizer.step()``."""
        model = model if model is not None else self.model
        step = self._n if step is None else int(step)
        self._n += 1
        self._last_step = step
        self._fw_at_last = self._rec.forwards if self._rec is not None else 0
        if self._pending is not None and self._before is not None:
            # on_step() was not called: spread the change since the last sample over the steps.
            self.on_step(model, step, _steps=max(1, step - self._pending["step"]))
        if step % self.every:
            self._pending = None
            return
        layers = _param_layers(model)
        rec: dict[str, Any] = {"step": step, "loss": _loss_value(loss), "layers": {}}
        total = 0.0
        for name, _, ps in layers:
            g = _norm([p.grad._data for _, p in ps if p.grad is not None])
            w = _norm([p._data for _, p in ps])
            rec["layers"][name] = {"grad_norm": g, "param_norm": w}
            total += g * g
        rec["grad_norm"] = math.sqrt(total)
        if self._rec is not None:
            for name, v in self._rec.out_grad.items():
                if name in rec["layers"]:
                    rec["layers"][name]["out_grad_rms"] = v
            rec["activations"] = copy.deepcopy(self._rec.stats)
        self._before = {id(p): p._data.copy() for _, _, ps in layers for _, p in ps}
        self._layers = layers
        self._pending = rec
        self.timeline.append(rec)

    def on_step(self, model: Any = None, step: int | None = None, *, _steps: int = 1) -> None:
        """Measure |Δw|/|w| per layer after ``optimizer.step()``."""
        if self._pending is None or self._before is None:
            return
        for name, _, ps in self._layers:
            d = _norm([p._data - self._before[id(p)] for _, p in ps])
            w = _norm([self._before[id(p)] for _, p in ps])
            self._pending["layers"][name]["update_ratio"] = d / w / _steps if w else None
        self._before = None
        self._pending = None

    def report(self) -> HealthReport:
        """Verdicts over the recorded window (``healthy`` when nothing is wrong)."""
        if not self.timeline:
            raise RuntimeError(
                "GradientHealthMonitor.report(): no step recorded; call on_backward() after "
                "each loss.backward()"
            )
        recent = self.timeline[-self.window :]
        last = recent[-1]
        norms = [r["grad_norm"] for r in recent]
        growth = None
        finite = [n for n in norms if math.isfinite(n) and n > 0]
        if len(finite) >= 2:
            lo = min(finite[: max(1, len(finite) // 2)])
            hi = max(finite)
            i_lo = norms.index(lo)
            i_hi = norms.index(hi)
            if i_hi > i_lo:
                growth = (hi / lo, i_hi - i_lo)
        bad = next((n for n in norms if not math.isfinite(n)), None)
        worst_norm = bad if bad is not None else last["grad_norm"]
        rows: list[LayerHealth] = []
        acts = last.get("activations", {})
        names = list(last["layers"])
        order = [n for n in acts if n in last["layers"] or acts[n].get("kind")] or names
        order += [n for n in names if n not in order]
        for name in order:
            a = acts.get(name, {})
            lay = last["layers"].get(name)
            r = _from_act_stats(name, a)
            if lay is not None:
                r.grad_norm = lay["grad_norm"]
                r.param_norm = lay["param_norm"]
                r.out_grad_rms = lay.get("out_grad_rms")
                ups = [
                    t["layers"][name].get("update_ratio")
                    for t in recent
                    if name in t["layers"] and t["layers"][name].get("update_ratio") is not None
                ]
                r.update_ratio = float(np.mean(ups)) if ups else None
            rows.append(r)
        prow = [r for r in rows if r.grad_norm is not None]
        ref = next((r.out_grad_rms for r in reversed(prow) if r.out_grad_rms), None)
        ref_g = next((r.grad_norm for r in reversed(prow) if r.grad_norm), None)
        for r in prow:
            if ref is not None and r.out_grad_rms is not None:
                r.grad_flow = r.out_grad_rms / ref
            elif ref is None and ref_g:
                r.grad_flow = r.grad_norm / ref_g
        losses = [t["loss"] for t in recent if t["loss"] is not None]
        bad_loss = next((v for v in losses if not math.isfinite(v)), None)
        loss = bad_loss if bad_loss is not None else (losses[-1] if losses else None)
        verdicts = _analyse(rows, self.thresholds, loss, worst_norm, _lr_of(self.optimizer), growth)
        return HealthReport(rows, verdicts, loss, worst_norm, list(self.timeline))
