"""The HTML run report: one self-contained file (images embedded) that opens without a server.

Sections: configuration and seed, loss/metric curves, gradient-health timeline and verdicts,
confusion matrix, saliency examples, test metrics. Images are base64 PNGs drawn by matplotlib
when it is installed (the ``plot`` extra), else inline SVG charts and HTML tables, so the report
always renders. ``images="png"`` insists on matplotlib (ImportError naming the extra).

Inputs are what a run leaves behind. A run directory (``chainrule train --out DIR``, or
``Trainer(..., report=True)``) holds ``history.csv`` or ``history.json`` (required), and
optionally ``run.json`` (configuration, seed, test metrics), ``health.json`` (a
``HealthReport.to_dict()`` or a monitor timeline), ``confusion.json`` (a matrix, or
``{"matrix": …, "labels": …}``) and ``checkpoint.safetensors`` (with ``run.json``'s task/model:
the model is rebuilt to compute the confusion matrix and saliency on a few test examples).
Objects can be passed directly instead: ``history=``, ``health=``, ``config=``, ``model=`` with
``data=`` …
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import _plot

__all__ = ["write_report", "report", "SECTIONS"]

SECTIONS = ("config", "curves", "health", "confusion", "saliency", "metrics")
_TITLES = {
    "config": "Configuration and seed",
    "curves": "Loss and metric curves",
    "health": "Gradient health",
    "confusion": "Confusion matrix",
    "saliency": "Saliency examples",
    "metrics": "Final metrics",
}
_HISTORY_FILES = ("history.csv", "history.json")


# ------------------------------------------------------------------------------- loading


def _read_history_file(path: Path) -> dict[str, list[float]]:
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return _history_columns(data)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return _history_columns(rows)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _history_columns(h: Any) -> dict[str, list[float]]:
    """Columns (name → per-epoch values) from a History, dict of lists or list of records."""
    if h is None:
        return {}
    if hasattr(h, "to_dict") and callable(h.to_dict):
        h = h.to_dict()
    if isinstance(h, dict) and "history" in h and isinstance(h["history"], dict | list):
        h = h["history"]
    if isinstance(h, list):
        keys: dict[str, None] = {}
        for r in h:
            keys.update(dict.fromkeys(r))
        h = {k: [r.get(k) for r in h] for k in keys}
    if not isinstance(h, dict):
        raise TypeError(f"history must be a History, a dict of lists or a list of records, "
                        f"not {type(h).__name__}")  # fmt: skip
    out = {}
    for k, v in h.items():
        if isinstance(v, list | tuple):
            vals = [_num(x) for x in v]
            if any(math.isfinite(x) for x in vals):
                out[str(k)] = vals
    return out


def _load_run_dir(run_dir: Path) -> dict[str, Any]:
    if not run_dir.exists():
        raise FileNotFoundError(f"report: run directory {str(run_dir)!r} does not exist")
    if not run_dir.is_dir():
        raise NotADirectoryError(f"report: {str(run_dir)!r} is not a directory")
    hist = next((run_dir / n for n in _HISTORY_FILES if (run_dir / n).is_file()), None)
    if hist is None:
        present = sorted(p.name for p in run_dir.iterdir())[:10]
        raise FileNotFoundError(
            f"report: no training run in {str(run_dir)!r}: missing history.csv or history.json "
            "(written by `chainrule train --out DIR` or Trainer(..., report=True)); the "
            f"directory holds: {', '.join(present) if present else 'nothing'}"
        )
    found: dict[str, Any] = {"history": _read_history_file(hist), "files": [hist.name]}
    for name, key in (("run.json", "config"), ("health.json", "health"),
                      ("confusion.json", "confusion")):  # fmt: skip
        p = run_dir / name
        if p.is_file():
            try:
                found[key] = json.loads(p.read_text())
                found["files"].append(name)
            except json.JSONDecodeError as e:
                raise ValueError(f"report: {p} is not valid JSON ({e})") from None
    ck = run_dir / "checkpoint.safetensors"
    if ck.is_file():
        found["checkpoint"] = ck
        found["files"].append(ck.name)
    return found


def _rebuild_from_checkpoint(ck: Path, config: dict[str, Any], limit: int) -> tuple[Any, Any, Any]:
    """(model, test split, loss) from a `chainrule train` checkpoint and its task."""
    from .. import models
    from ..io import load_checkpoint

    task = models.get_task(config["task"])
    name = config.get("model_name") or config.get("model")
    model = models.get_model(task.name, name, **(config.get("model_kwargs") or {}))
    load_checkpoint(ck, model=model, restore_rng=False)
    data = task.load(limit=limit, seed=config.get("seed", 0))
    return model, data.test, task.loss()


# ----------------------------------------------------------------------------- rendering


def _img(fig: Any) -> str:
    return f'<img alt="figure" src="data:image/png;base64,{_plot.figure_png_base64(fig)}"/>'


def _table(rows: list[list[Any]], head: list[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str)[:200]
    return str(v)


def _curves(hist: dict[str, list[float]], png: bool) -> str:
    if not hist:
        return "<p class='missing'>No history recorded.</p>"
    skip = {"epoch", "time", "lr"}
    names = [k for k in hist if k not in skip]
    losses = [k for k in names if "loss" in k]
    others = [k for k in names if k not in losses]
    xs = hist.get("epoch") or list(range(1, len(next(iter(hist.values()))) + 1))
    parts = []
    for group, label in ((losses, "loss"), (others, "metric")):
        if not group:
            continue
        if png:
            fig, ax = _plot.new_figure(6.4, 3.4)
            for k in group:
                ax.plot(xs[: len(hist[k])], hist[k], marker="o", ms=3, label=k)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.legend(fontsize=8)
            ax.set_title(f"{label} per epoch")
            parts.append(_img(fig))
        else:
            parts.append(
                _plot.svg_lines(
                    {k: hist[k] for k in group},
                    xs=xs,
                    title=f"{label} per epoch",
                    xlabel="epoch",
                    ylabel=label,
                )  # fmt: skip
            )
    if "lr" in hist:
        parts.append(
            f"<p>learning rate: {hist['lr'][0]:.3g} → {hist['lr'][-1]:.3g}</p>"
            if hist["lr"]
            else ""
        )
    last = [[k, v[-1]] for k, v in hist.items() if v]
    parts.append("<h3>Last epoch</h3>" + _table(last, ["column", "value"]))
    return "".join(parts)


def _health_data(health: Any) -> dict[str, Any] | None:
    """Normalise a HealthReport / monitor / GradientMonitor callback / dict to report.to_dict()."""
    if health is None:
        return None
    if hasattr(health, "report") and hasattr(health, "timeline"):  # GradientHealthMonitor
        return health.report().to_dict() if health.timeline else None
    if hasattr(health, "reports") and hasattr(health, "records"):  # train.GradientMonitor
        if health.reports:
            d = _health_data(health.reports[-1]) or {}
        else:
            d = {"layers": [], "verdicts": []}
        if not d.get("timeline"):
            d["timeline"] = [
                {"step": r.get("step"), "grad_norm": r.get("total_norm")} for r in health.records
            ]
        return d
    if isinstance(health, list) and health and hasattr(health[-1], "to_dict"):
        return health[-1].to_dict()
    if hasattr(health, "to_dict"):
        return health.to_dict()
    if isinstance(health, dict):
        return health
    raise TypeError(f"health: unsupported {type(health).__name__}")


def _health(h: dict[str, Any] | None, png: bool) -> str:
    if not h:
        return (
            "<p class='missing'>No gradient-health data recorded: pass <code>health=</code> "
            "(a HealthReport or GradientHealthMonitor) or add "
            "<code>train.GradientMonitor()</code> to the callbacks.</p>"
        )
    parts = []
    tl = [t for t in h.get("timeline") or [] if t.get("grad_norm") is not None]
    if tl:
        steps = [t.get("step", i) for i, t in enumerate(tl)]
        norms = [float(t["grad_norm"]) for t in tl]
        if png:
            fig, ax = _plot.new_figure(6.4, 3.2)
            ax.plot(steps, [n if n > 0 else np.nan for n in norms], label="global |grad|")
            layers = tl[-1].get("layers") or {}
            for name in list(layers)[:8]:
                ys = [t.get("layers", {}).get(name, {}).get("grad_norm", np.nan) for t in tl]
                ax.plot(steps, [y if y and y > 0 else np.nan for y in ys], lw=0.8, label=name)
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel("gradient norm")
            ax.set_title("gradient-health timeline")
            ax.legend(fontsize=7)
            parts.append(_img(fig))
        else:
            parts.append(
                _plot.svg_lines(
                    {"global |grad|": norms},
                    xs=steps,
                    logy=True,
                    title="gradient-health timeline",
                    xlabel="step",
                    ylabel="gradient norm",
                )  # fmt: skip
            )
    layers = h.get("layers") or []
    pl = [r for r in layers if r.get("grad_norm") is not None]
    if pl:
        flow = [r.get("out_grad_rms") or r.get("grad_norm") or 0.0 for r in pl]
        if png:
            fig, ax = _plot.new_figure(max(6.0, 0.35 * len(pl)), 3.2)
            ax.bar(range(len(pl)), [f if f > 0 else np.nan for f in flow])
            ax.set_yscale("log")
            ax.set_xticks(range(len(pl)))
            ax.set_xticklabels([r["name"] for r in pl], rotation=60, ha="right", fontsize=7)
            ax.set_title("gradient flow per layer (input → output)")
            parts.append(_img(fig))
        else:
            parts.append(
                _plot.svg_lines(
                    {"gradient per layer": flow},
                    logy=True,
                    xlabel="layer index",
                    title="gradient flow per layer (input → output)",
                )  # fmt: skip
            )
        cols = ["name", "kind", "grad_norm", "param_norm", "grad_flow", "update_ratio",
                "dead_fraction", "saturation"]  # fmt: skip
        parts.append(
            _table([[("" if r.get(c) is None else r.get(c)) for c in cols] for r in layers], cols)
        )
    verdicts = h.get("verdicts") or []
    if verdicts:
        items = []
        for v in verdicts:
            cls = "ok" if v.get("kind") == "healthy" else "warn"
            where = ", ".join(v.get("layers") or [])
            items.append(
                f"<li class='{cls}'><b>{html.escape(str(v.get('kind', '')).upper())}</b>"
                + (f" [{html.escape(where[:200])}]" if where else "")
                + f": {html.escape(str(v.get('evidence', '')))}<br><i>advice:</i> "
                f"{html.escape(str(v.get('advice', '')))}</li>"
            )
        parts.append("<h3>Verdicts</h3><ul class='verdicts'>" + "".join(items) + "</ul>")
    return "".join(parts) or "<p class='missing'>The health record is empty.</p>"


def _confusion_matrix(model: Any, data: Any, max_examples: int) -> tuple[np.ndarray, Any, Any]:
    """(matrix, inputs, predictions) of a classifier on up to ``max_examples`` examples."""
    from .. import autograd
    from .._tensor import Tensor

    x, y = _xy(data, max_examples)
    # NumPy data is float64 by default: feed it in the model's float dtype, as fit does.
    dtype = next((p._data.dtype for p in model.parameters() if p._data.dtype.kind == "f"), None)
    if dtype is not None and x._data.dtype.kind == "f" and x._data.dtype != dtype:
        x = Tensor(x._data.astype(dtype))
    was = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with autograd.no_grad():
            out = model(x)
    finally:
        if was and hasattr(model, "train"):
            model.train(was)
    o = out._data if isinstance(out, Tensor) else np.asarray(out)
    if o.ndim != 2 or o.shape[1] < 2:
        raise ValueError(f"not a classifier (output shape {tuple(o.shape)})")
    t = np.asarray(y._data if isinstance(y, Tensor) else y)
    if t.ndim == 2 and t.shape[1] == o.shape[1]:
        t = t.argmax(1)
    t = t.astype(np.int64).reshape(-1)
    if t.shape[0] != o.shape[0]:
        raise ValueError(f"targets {t.shape[0]} vs outputs {o.shape[0]}: not per-example labels")
    pred = o.argmax(1)
    c = int(max(o.shape[1], t.max() + 1))
    cm = np.zeros((c, c), dtype=np.int64)
    np.add.at(cm, (t, pred), 1)
    return cm, x, pred


def _xy(data: Any, n: int) -> tuple[Any, Any]:
    from .._tensor import Tensor

    if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[0], Tensor):
        return data[0][:n], data[1][:n]
    if (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(a, np.ndarray) and a.ndim >= 1 for a in data)
    ):  # an (x, y) pair of NumPy arrays, as fit accepts it
        return Tensor(np.ascontiguousarray(data[0][:n])), Tensor(np.ascontiguousarray(data[1][:n]))
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        items = [data[i] for i in range(min(n, len(data)))]
        from .. import _api

        xs = _api.stack([i[0] if isinstance(i[0], Tensor) else Tensor(np.asarray(i[0]))
                         for i in items])  # fmt: skip
        ys = np.asarray([np.asarray(getattr(i[1], "_data", i[1])) for i in items])
        return xs, Tensor(ys)
    raise TypeError(
        f"data must be an (inputs, targets) pair or a dataset, not {type(data).__name__}"
    )


def _confusion(cm: Any, labels: Any, png: bool) -> str:
    cm = np.asarray(cm)
    n = cm.shape[0]
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    acc = float(np.trace(cm) / cm.sum()) if cm.sum() else math.nan
    parts = [
        f"<p>{int(cm.sum())} examples, accuracy {acc:.4f} (rows: true, columns: predicted)</p>"
    ]
    if png:
        fig, ax = _plot.new_figure(1.2 + 0.45 * n, 1.0 + 0.45 * n)
        ax.imshow(cm, cmap="Blues")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")  # fmt: skip
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        parts.append(_img(fig))
    top = cm.max() or 1
    rows = []
    for i in range(n):
        cells = "".join(
            f"<td style='background:rgba(31,119,180,{cm[i, j] / top:.2f})'>{cm[i, j]}</td>"
            for j in range(n)
        )
        rows.append(f"<tr><th>{html.escape(str(labels[i]))}</th>{cells}</tr>")
    head = "".join(f"<th>{html.escape(str(lab))}</th>" for lab in labels)
    parts.append(f"<table class='cm'><tr><th>true \\ pred</th>{head}</tr>{''.join(rows)}</table>")
    return "".join(parts)


def _saliency_section(model: Any, x: Any, pred: Any, png: bool, k: int = 4) -> str:
    from .saliency import plot_heatmap, saliency

    parts = []
    for i in range(min(k, x.shape[0])):
        xi = x[i : i + 1]
        s = saliency(model, xi, target=int(pred[i]))
        if png:
            fig = plot_heatmap(s[0], xi[0], title=f"example {i}: class {int(pred[i])}")
            parts.append(_img(fig))
        else:
            parts.append(_svg_heat(np.asarray(s._data[0]), f"example {i}: class {int(pred[i])}"))
    return "<div class='saliency'>" + "".join(parts) + "</div>"


def _svg_heat(a: np.ndarray, title: str) -> str:
    a = np.abs(a)
    if a.ndim == 3:
        a = a.sum(0)
    if a.ndim == 1:
        a = a[None, :]
    a = a.reshape(a.shape[0], -1)
    h, w = a.shape
    cell = max(2, min(12, 240 // max(h, w)))
    top = a.max() or 1.0
    rects = "".join(
        f'<rect x="{j * cell}" y="{i * cell + 16}" width="{cell}" height="{cell}" '
        f'fill="rgb({int(255 * a[i, j] / top)},{int(80 * a[i, j] / top)},0)"/>'
        for i in range(h)
        for j in range(w)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(w * cell, 120)}" '
        f'height="{h * cell + 16}"><text x="0" y="12" font-size="11">{html.escape(title)}</text>'
        f"{rects}</svg>"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:70em;margin:1em auto;padding:0 1em;"
    "color:#222}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}"
    "table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;"
    "padding:2px 6px;text-align:right}img{max-width:100%}.missing{color:#888}"
    ".warn{color:#a00}.ok{color:#070}.seed{font-size:1.1em;font-weight:bold}"
    ".saliency img,.saliency svg{max-width:45%;margin:4px}"
)


# ------------------------------------------------------------------------------ the API


def write_report(
    source: Any = None,
    path: Any = None,
    *,
    output: Any = None,
    history: Any = None,
    model: Any = None,
    data: Any = None,
    health: Any = None,
    config: dict[str, Any] | None = None,
    seed: int | None = None,
    confusion: Any = None,
    labels: Any = None,
    title: str | None = None,
    images: str = "auto",
    max_examples: int = 512,
) -> Path:
    """Write the self-contained HTML report of a training run; returns the file's path.

    Args:
        source: a run directory, or a History (or dict of lists / list of records). A path
            ending in ``.html`` is taken as the output (``write_report("r.html", history=h)``).
        path, output: the HTML file (default ``<run_dir>/report.html`` or ``report.html``).
        history: the per-epoch history (if ``source`` is not one).
        model, data: a classifier and ``(inputs, targets)`` (or a dataset): the confusion
            matrix and saliency examples are computed from up to ``max_examples`` examples.
        health: a HealthReport, GradientHealthMonitor, ``train.GradientMonitor`` or their dict.
        config, seed: the run's configuration (shown as a table) and seed.
        confusion, labels: a precomputed confusion matrix (rows true, columns predicted).
        images: ``"auto"`` (PNG via matplotlib if installed, else inline SVG), ``"png"``
            (requires matplotlib), or ``"svg"``.

    Raises:
        FileNotFoundError: a run directory without a history names the missing files.
        ImportError: ``images="png"`` without matplotlib (names the ``plot`` extra).
    """
    if images not in ("auto", "png", "svg"):
        raise ValueError(f"images must be 'auto', 'png' or 'svg', got {images!r}")
    if images == "png":
        _plot.require_matplotlib()
    png = images == "png" or (images == "auto" and _plot.has_matplotlib())
    out_path = output if output is not None else path
    run_dir: Path | None = None
    if isinstance(source, str | Path):
        p = Path(source)
        if p.suffix.lower() in (".html", ".htm") and out_path is None:
            out_path, source = p, None
        else:
            run_dir = p
            source = None
    found: dict[str, Any] = _load_run_dir(run_dir) if run_dir is not None else {"files": []}
    hist = _history_columns(history if history is not None else source) or found.get("history", {})
    if not hist and run_dir is None and model is None and health is None:
        raise ValueError(
            "write_report: nothing to report: give a run directory, a history, or model/data/health"
        )
    cfg = dict(found.get("config") or {})
    cfg.update(config or {})
    if seed is not None:
        cfg["seed"] = seed
    hdata = _health_data(health) if health is not None else found.get("health")
    test_metrics = cfg.pop("test", None)

    # Confusion matrix and saliency: given, or computed from a model (+ data or checkpoint).
    notes: dict[str, str] = {}
    cm = confusion
    if isinstance(cm, dict):
        labels = labels or cm.get("labels")
        cm = cm.get("matrix")
    if cm is None and found.get("confusion") is not None:
        fc = found["confusion"]
        cm = fc.get("matrix") if isinstance(fc, dict) else fc
        labels = labels or (fc.get("labels") if isinstance(fc, dict) else None)
    xs = preds = None
    if model is None and data is None and found.get("checkpoint") and "task" in cfg:
        try:
            model, data, task_loss = _rebuild_from_checkpoint(
                found["checkpoint"], cfg, max_examples
            )
        except Exception as e:  # the report still renders; the section says why
            notes["confusion"] = f"could not rebuild the model from the checkpoint: {e}"
        else:
            if hdata is None:  # no monitor ran: judge the final weights on one test batch
                try:
                    from .health import health as _health_fn

                    hdata = _health_fn(model, _xy(data, 64), task_loss).to_dict()
                    hdata["note"] = "one batch of test data on the final weights"
                except Exception as e:  # noqa: BLE001 - report what failed, keep rendering
                    notes["health"] = f"could not compute gradient health: {e}"
    if model is not None and data is not None:
        try:
            cm_m, xs, preds = _confusion_matrix(model, data, max_examples)
            cm = cm if cm is not None else cm_m
        except (ValueError, TypeError, RuntimeError, IndexError) as e:
            # The report is written after training: a section that cannot be computed is
            # noted in the page, never an exception that hides the finished run.
            notes["confusion"] = str(e)

    sections: dict[str, str] = {}
    if cfg:
        seed_v = cfg.get("seed")
        seed_html = (
            f"<p class='seed'>seed: {html.escape(str(seed_v))}</p>"
            if seed_v is not None
            else "<p class='missing'>seed: not recorded</p>"
        )
        sections["config"] = seed_html + _table([[k, v] for k, v in cfg.items()], ["key", "value"])
    else:
        sections["config"] = "<p class='missing'>No configuration recorded (seed unknown).</p>"
    sections["curves"] = _curves(hist, png)
    sections["health"] = _health(hdata, png)
    if hdata and hdata.get("note"):
        sections["health"] = f"<p>({html.escape(hdata['note'])})</p>" + sections["health"]
    elif not hdata and notes.get("health"):
        sections["health"] += f"<p class='missing'>{html.escape(notes['health'])}</p>"
    if cm is not None:
        sections["confusion"] = _confusion(cm, labels, png)
    else:
        why = notes.get("confusion", "pass model= and data= (or confusion=) to include it")
        sections["confusion"] = f"<p class='missing'>No confusion matrix: {html.escape(why)}.</p>"
    if model is not None and xs is not None:
        try:
            sections["saliency"] = _saliency_section(model, xs, preds, png)
        except (ValueError, TypeError, RuntimeError) as e:
            sections["saliency"] = f"<p class='missing'>Saliency failed: {html.escape(str(e))}</p>"
    else:
        sections["saliency"] = (
            "<p class='missing'>No saliency examples: needs a classifier and data.</p>"
        )
    metrics = test_metrics if isinstance(test_metrics, dict) else {}
    if hist:
        metrics = {**{f"final {k}": v[-1] for k, v in hist.items() if v and k != "epoch"},
                   **{f"test {k}": v for k, v in metrics.items()}}  # fmt: skip
    sections["metrics"] = (
        _table([[k, v] for k, v in metrics.items()], ["metric", "value"])
        if metrics
        else "<p class='missing'>No metrics recorded.</p>"
    )

    from .._version import __version__

    name = title or (f"chainrule run report: {run_dir.name}" if run_dir else "chainrule run report")
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    src = f" from {html.escape(str(run_dir))} ({', '.join(found['files'])})" if run_dir else ""
    nav = " · ".join(f"<a href='#{s}'>{_TITLES[s]}</a>" for s in SECTIONS)
    body = "".join(
        f"<section id='{s}'><h2>{_TITLES[s]}</h2>{sections[s]}</section>" for s in SECTIONS
    )
    doc = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(name)}</h1><p>generated {when} by chainrule {__version__}{src}; "
        f"figures: {'PNG (matplotlib)' if png else 'inline SVG'}</p><nav>{nav}</nav>"
        f"{body}</body></html>"
    )
    if out_path is None:
        out_path = (run_dir / "report.html") if run_dir is not None else Path("report.html")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(out_path)
    return out_path


def report(source: Any = None, output: Any = None, **kwargs: Any) -> Path:
    """Alias of ``write_report`` (``chainrule report RUN_DIR`` calls it with ``output=``)."""
    return write_report(source, output=output, **kwargs)
