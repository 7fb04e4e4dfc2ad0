"""``explain``: one training step as the chain rule, with real numbers.

Forward values layer by layer (``z = Σ w·x + b``, ``a = f(z)``), the loss, then the backward pass
node by node — each op's gradient formula from the op table, the upstream gradient, the local
derivative and their product — and the update ``w_new = w_old − η·∂L/∂w``. Small tensors are
shown in full; large ones as a summary (shape, norm, a few entries). The result is a structured
object (``.forward``, ``.loss``, ``.backward``, ``.gradients``, ``.updates``) that renders as
text (``str()``), Markdown and HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["explain", "Explanation", "ForwardStep", "BackwardStep", "UpdateStep"]

_LOSS_FORMULAS = {
    "MSELoss": "L = mean((ŷ − y)²)",
    "L1Loss": "L = mean(|ŷ − y|)",
    "CrossEntropyLoss": "L = mean(−log softmax(ŷ)[y])",
    "NLLLoss": "L = mean(−ŷ[y])",
    "BCELoss": "L = mean(−(y·log ŷ + (1 − y)·log(1 − ŷ)))",
    "BCEWithLogitsLoss": "L = mean(−(y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))))",
    "HuberLoss": "L = mean(½d² if |d| ≤ δ else δ(|d| − ½δ)),  d = ŷ − y",
    "SmoothL1Loss": "L = mean(½d²/β if |d| < β else |d| − ½β),  d = ŷ − y",
    "mse_loss": "L = mean((ŷ − y)²)",
    "cross_entropy": "L = mean(−log softmax(ŷ)[y])",
}
_ACTIVATIONS = {
    "Sigmoid": ("sigmoid", "a = σ(z) = 1 / (1 + e^(−z))"),
    "Tanh": ("tanh", "a = tanh(z)"),
    "ReLU": ("relu", "a = max(0, z)"),
    "LeakyReLU": ("leaky_relu", "a = z if z > 0 else slope·z"),
    "GELU": ("gelu", "a = z·Φ(z)"),
    "Softmax": ("softmax", "a = e^z / Σ e^z"),
    "Identity": ("identity", "a = z"),
}


def _local_derivative(op: str, x: np.ndarray) -> tuple[str, np.ndarray] | None:
    """(expression, value) of the elementwise derivative of a unary op at ``x``."""
    with np.errstate(all="ignore"):
        if op == "sigmoid":
            s = 1.0 / (1.0 + np.exp(-x))
            return "σ(z)(1 − σ(z))", s * (1 - s)
        if op == "tanh":
            t = np.tanh(x)
            return "1 − tanh²(z)", 1 - t * t
        if op == "relu":
            return "[z > 0]", (x > 0).astype(x.dtype)
        if op == "exp":
            return "eˣ", np.exp(x)
        if op == "log":
            return "1/x", 1.0 / x
        if op == "sqrt":
            return "1/(2√x)", 0.5 / np.sqrt(x)
        if op == "neg":
            return "−1", -np.ones_like(x)
        if op == "sin":
            return "cos x", np.cos(x)
        if op == "cos":
            return "−sin x", -np.sin(x)
        if op == "square":
            return "2x", 2 * x
        if op == "abs":
            return "sign x", np.sign(x)
    return None


def _fmt_num(v: float) -> str:
    return f"{v:.6g}"


def _fmt(a: Any, full: int) -> str:
    """Full numbers for small arrays, a summary (shape, norm, a few entries) for large ones."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _fmt_num(float(a))
    if a.size <= full:
        body = np.array2string(
            a.astype(np.float64) if a.dtype.kind == "f" else a,
            formatter={"float_kind": _fmt_num},
            separator=", ",
            max_line_width=100,
        )
        return body.replace("\n", " ")
    flat = a.reshape(-1)
    head = ", ".join(_fmt_num(float(v)) for v in flat[:4])
    norm = float(np.sqrt(np.sum(np.square(a, dtype=np.float64)))) if a.dtype.kind == "f" else 0
    return f"<shape {tuple(a.shape)}, ‖·‖ {norm:.4g}, mean {float(a.mean()):.4g}: {head}, …>"


@dataclass
class ForwardStep:
    """One layer's forward computation: ``equation`` rendered with numbers."""

    layer: str
    kind: str
    formula: str
    equation: str
    values: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class BackwardStep:
    """One backward node: op, gradient formula, upstream gradient, local derivative, results."""

    index: int
    op: str
    node: str
    formula: str
    upstream: np.ndarray | None
    local: str | None
    local_value: np.ndarray | None
    grads: dict[str, np.ndarray]
    equation: str


@dataclass
class UpdateStep:
    """One parameter's update: ``w_new = w_old − η·∂L/∂w`` (or the optimizer's own rule)."""

    name: str
    old: np.ndarray
    grad: np.ndarray
    new: np.ndarray
    lr: float | None
    rule: str
    equation: str


@dataclass
class Explanation:
    """One training step, structured; renders via to_text() (= str()), to_markdown(), to_html()."""

    forward: list[ForwardStep]
    loss_formula: str
    loss: float
    loss_equation: str
    backward: list[BackwardStep]
    gradients: dict[str, np.ndarray]
    updates: list[UpdateStep]
    full_threshold: int = 64

    def _sections(self) -> list[tuple[str, list[str]]]:
        fw = [f"{s.layer} ({s.kind}): {s.formula}\n    {s.equation}" for s in self.forward]
        loss = [f"{self.loss_formula}\n    {self.loss_equation}"]
        bw = [
            f"[{s.index}] {s.node} (op '{s.op}'): {s.formula}\n    "
            + s.equation.replace("\n", "\n    ")
            for s in self.backward
        ]
        grads = [f"∂L/∂{n} = {_fmt(g, self.full_threshold)}" for n, g in self.gradients.items()]
        ups = [f"{u.name}: {u.rule}\n    {u.equation}" for u in self.updates]
        out = [
            ("1. Forward pass, layer by layer", fw or ["(no module hooks: not an nn.Module)"]),
            ("2. Loss", loss),
            ("3. Backward pass, node by node (chain rule: upstream × local = gradient)", bw),
            ("4. Gradients of the parameters (equal to each .grad)", grads),
        ]
        if ups:
            out.append(("5. Update", ups))
        return out

    def to_text(self) -> str:
        """Plain-text rendering."""
        lines = ["One training step as the chain rule"]
        for title, items in self._sections():
            lines += ["", title, "-" * len(title)]
            lines += items
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Markdown rendering (headings, one bullet per step, equations in code spans)."""
        lines = ["# One training step as the chain rule"]
        for title, items in self._sections():
            lines += ["", f"## {title}", ""]
            for it in items:
                first, *rest = it.split("\n")
                # trailing double space: a Markdown hard line break between equations
                lines.append(f"- **{first.strip()}**" + ("  " if rest else ""))
                lines += [f"  `{r.strip()}`  " for r in rest]
        return "\n".join(lines)

    def to_html(self, standalone: bool = True) -> str:
        """HTML rendering; ``standalone=False`` gives a fragment to embed."""
        parts = ["<div class='chainrule-explain'><h2>One training step as the chain rule</h2>"]
        for title, items in self._sections():
            parts.append(f"<h3>{html.escape(title)}</h3><ol>")
            for it in items:
                first, *rest = it.split("\n")
                body = "".join(f"<br><code>{html.escape(r.strip())}</code>" for r in rest)
                parts.append(f"<li><b>{html.escape(first.strip())}</b>{body}</li>")
            parts.append("</ol>")
        parts.append("</div>")
        frag = "".join(parts)
        if not standalone:
            return frag
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>chainrule explain</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
            "code{white-space:pre-wrap}</style></head><body>" + frag + "</body></html>"
        )

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:  # notebooks
        return self.to_html(standalone=False)


def _linear_equation(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, z: np.ndarray) -> str:
    """z[j] = w·x + b written out term by term for tiny layers (first sample)."""
    x0 = x.reshape(-1, x.shape[-1])[0]
    z0 = z.reshape(-1, z.shape[-1])[0]
    rows = []
    for j in range(w.shape[0]):
        terms = " + ".join(f"({_fmt_num(w[j, i])})·({_fmt_num(x0[i])})" for i in range(len(x0)))
        bias = f" + ({_fmt_num(b[j])})" if b is not None else ""
        rows.append(f"z[{j}] = {terms}{bias} = {_fmt_num(z0[j])}")
    note = " (first sample)" if x.reshape(-1, x.shape[-1]).shape[0] > 1 else ""
    return "; ".join(rows) + note


def explain(
    model: Any,
    x: Any,
    y: Any,
    loss_fn: Any,
    optimizer: Any = None,
    *,
    param: str | None = None,
    lr: float | None = None,
    full_threshold: int = 64,
) -> Explanation:
    """Run one training step of ``model`` on ``(x, y)`` and explain it with real numbers.

    The step is real: parameter ``.grad`` are replaced by this step's gradients, and with an
    ``optimizer`` its ``step()`` is taken (``w_new = w_old − η·∂L/∂w`` is shown, and checked, for
    plain SGD; other optimizers show the change they made). Without an optimizer, ``lr`` shows
    the SGD update that step would make, without applying it. ``param`` restricts the update
    section to one parameter (by its ``named_parameters`` name). Arrays with at most
    ``full_threshold`` entries are printed in full, larger ones summarised.

    Errors from the model or the loss (e.g. output/target shape mismatch) propagate unchanged,
    before any state is modified.
    """
    from .. import autograd
    from .._tensor import Tensor
    from ..autograd import engine

    named = list(model.named_parameters()) if hasattr(model, "named_parameters") else []
    pname = {id(p): n for n, p in named}
    if param is not None and param not in dict(named):
        raise KeyError(f"explain: no parameter named {param!r}; have {[n for n, _ in named]}")
    if optimizer is None and lr is not None and lr <= 0:
        raise ValueError(f"explain: lr must be positive, got {lr}")

    # Forward, with hooks recording every leaf module's input and output.
    records: list[tuple[str, Any, np.ndarray | None, np.ndarray]] = []
    out_names: dict[int, str] = {}
    handles = []
    if hasattr(model, "named_modules"):
        for name, mod in model.named_modules():
            if not name or any(True for _ in mod.children()):
                continue

            def hook(m: Any, inp: Any, out: Any, name: str = name) -> None:
                xin = inp[0]._data.copy() if inp and isinstance(inp[0], Tensor) else None
                if isinstance(out, Tensor):
                    records.append((name, m, xin, out._data.copy()))
                    if out.grad_fn is not None:
                        out_names[id(out.grad_fn)] = name

            handles.append(mod.register_forward_hook(hook))
    try:
        with autograd.enable_grad():
            out = model(x)
            loss = loss_fn(out, y)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError("explain: loss_fn must return a scalar Tensor")

    forward: list[ForwardStep] = []
    for name, mod, xin, z in records:
        kind = type(mod).__name__
        ps = dict(mod.named_parameters(recurse=False))
        if kind == "Linear" and "weight" in ps and xin is not None:
            w = ps["weight"]._data
            b = ps["bias"]._data if ps.get("bias") is not None else None
            if w.size <= 16:
                eq = _linear_equation(xin, w, b, z)
            else:
                eq = f"x = {_fmt(xin, full_threshold)} → z = {_fmt(z, full_threshold)}"
            vals = {"x": xin, "W": w.copy(), "z": z}
            if b is not None:
                vals["b"] = b.copy()
            forward.append(
                ForwardStep(name, kind, "z = W·x + b  (z_j = Σ_i W_ji x_i + b_j)", eq, vals)
            )
        elif kind in _ACTIVATIONS:
            formula = _ACTIVATIONS[kind][1]
            eq = f"z = {_fmt(xin, full_threshold)} → a = {_fmt(z, full_threshold)}"
            forward.append(ForwardStep(name, kind, formula, eq, {"z": xin, "a": z}))
        else:
            eq = f"in = {_fmt(xin, full_threshold)} → out = {_fmt(z, full_threshold)}"
            forward.append(ForwardStep(name, kind, f"out = {kind}(in)", eq, {"in": xin, "out": z}))

    lname = type(loss_fn).__name__ if not hasattr(loss_fn, "__code__") else loss_fn.__name__
    loss_formula = _LOSS_FORMULAS.get(lname, f"L = {lname}(ŷ, y)")
    yv = getattr(y, "_data", y)
    lossv = float(np.asarray(loss._data, np.float64).reshape(()))
    loss_eq = (
        f"ŷ = {_fmt(out._data, full_threshold)}, y = {_fmt(np.asarray(yv), full_threshold)}"
        f" → L = {_fmt_num(lossv)}"
    )

    # Backward, with an observer recording each node.
    steps: list[BackwardStep] = []
    for p in (p for _, p in named):
        p.grad = None

    def label(t: Any, node_key: int | None) -> str:
        if t is None:
            return "const"
        if id(t) in pname:
            return pname[id(t)]
        if t.grad_fn is not None and id(t.grad_fn) in out_names:
            return f"output of {out_names[id(t.grad_fn)]}"
        if t.grad_fn is not None:
            return f"output of {t.grad_fn.opdef.name}"
        return "input x" if t is x else "input"

    def observer(node: Any, g_out: Any, g_ins: Any) -> None:
        opn = node.opdef.name
        grads: dict[str, np.ndarray] = {}
        for t, gi, need in zip(node.inputs, g_ins, node.needs):
            if t is None or gi is None or not need:
                continue
            key = label(t, None)
            if key in grads:
                key = f"{key} (#{len([k for k in grads if k.startswith(key)]) + 1})"
            grads[key] = np.array(gi, copy=True)
        up = None if node.n_out > 1 else np.array(g_out, copy=True)
        loc = None
        locv = None
        pieces = []
        if up is not None and len(node.inputs) == 1 and node.inputs[0] is not None:
            ld = _local_derivative(opn, node.inputs[0]._data)
            if ld is not None:
                loc, locv = ld
                gi = next(iter(grads.values()), None)
                pieces.append(
                    f"upstream ∂L/∂out = {_fmt(up, full_threshold)} × local {loc} = "
                    f"{_fmt(locv, full_threshold)} → ∂L/∂in = {_fmt(gi, full_threshold)}"
                )
        if not pieces and opn == "linear" and up is not None and up.ndim == 2:
            pieces += _linear_backward_terms(node, up, grads, label, full_threshold)
        if not pieces:
            if up is not None:
                pieces.append(f"upstream ∂L/∂out = {_fmt(up, full_threshold)}")
            for k, g in grads.items():
                pieces.append(f"∂L/∂[{k}] = {_fmt(g, full_threshold)}")
        where = out_names.get(id(node))
        nodename = node.name() + (f" [{where}]" if where else "")
        steps.append(
            BackwardStep(
                len(steps) + 1,
                opn,
                nodename,
                node.opdef.formula or "(no formula recorded)",
                up,
                loc,
                locv,
                grads,
                "\n".join(pieces),
            )
        )

    engine.add_observer(observer)
    try:
        loss.backward()
    finally:
        engine.remove_observer(observer)
    gradients = {n: np.array(p.grad._data, copy=True) for n, p in named if p.grad is not None}

    updates: list[UpdateStep] = []
    chosen = [(n, p) for n, p in named if (param is None or n == param) and p.grad is not None]
    if optimizer is not None:
        olds = {n: p._data.copy() for n, p in named}
        optimizer.step()
        sgd_lr, plain = _plain_sgd(optimizer)
        for n, p in chosen:
            g = gradients[n]
            new = p._data.copy()
            if plain:
                rule = "w_new = w_old − η·∂L/∂w"
                eq = (
                    f"{_fmt(olds[n], full_threshold)} − {_fmt_num(sgd_lr)}·"
                    f"{_fmt(g, full_threshold)} = {_fmt(new, full_threshold)}"
                )
            else:
                rule = f"w_new = w_old + Δ  ({type(optimizer).__name__}'s update rule)"
                eq = (
                    f"{_fmt(olds[n], full_threshold)} + {_fmt(new - olds[n], full_threshold)} "
                    f"= {_fmt(new, full_threshold)}"
                )
            updates.append(UpdateStep(n, olds[n], g, new, sgd_lr, rule, eq))
    elif lr is not None:
        for n, p in chosen:
            g = gradients[n]
            new = p._data - lr * g
            eq = (
                f"{_fmt(p._data, full_threshold)} − {_fmt_num(lr)}·{_fmt(g, full_threshold)} = "
                f"{_fmt(new, full_threshold)}  (not applied: no optimizer given)"
            )
            updates.append(UpdateStep(n, p._data.copy(), g, new, lr, "w_new = w_old − η·∂L/∂w", eq))
    return Explanation(
        forward, loss_formula, lossv, loss_eq, steps, gradients, updates, full_threshold
    )


def _linear_backward_terms(
    node: Any, up: np.ndarray, grads: dict[str, np.ndarray], label: Any, full: int
) -> list[str]:
    """For a tiny linear layer (one sample): each ∂L/∂W[j,i] = ∂L/∂z[j]·x[i] with numbers."""
    x_t, w_t = node.inputs[0], node.inputs[1]
    if x_t is None or w_t is None or up.shape[0] != 1 or w_t._data.size > 16:
        return []
    x = x_t._data.reshape(1, -1)[0]
    w = w_t._data
    wname = label(w_t, None)
    out = [f"upstream ∂L/∂z = {_fmt(up, full)}"]
    for j in range(w.shape[0]):
        for i in range(w.shape[1]):
            out.append(
                f"∂L/∂{wname}[{j},{i}] = ∂L/∂z[{j}]·x[{i}] = ({_fmt_num(up[0, j])})·"
                f"({_fmt_num(x[i])}) = {_fmt_num(up[0, j] * x[i])}"
            )
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        out.append(f"∂L/∂{label(node.inputs[2], None)} = ∂L/∂z = {_fmt(up[0], full)}")
    if x_t.requires_grad:
        gx = up[0] @ w
        out.append(f"∂L/∂x = ∂L/∂z·W = {_fmt(gx, full)}")
    return out


def _plain_sgd(optimizer: Any) -> tuple[float | None, bool]:
    """(lr, True) when every group is plain SGD (no momentum, weight decay, nesterov)."""
    try:
        groups = optimizer.param_groups
        lr = float(groups[0]["lr"])
    except (AttributeError, IndexError, KeyError, TypeError):
        return None, False
    if type(optimizer).__name__ != "SGD":
        return lr, False
    for g in groups:
        if g.get("momentum", 0) or g.get("weight_decay", 0) or g.get("maximize", False):
            return lr, False
        if float(g["lr"]) != lr:
            return lr, False
    return lr, True
