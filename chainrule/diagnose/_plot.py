"""Plot helpers: matplotlib imported lazily (the ``plot`` extra) and a dependency-free SVG fallback.

Figures are made with ``matplotlib.figure.Figure`` directly (no pyplot): no GUI backend, no global
figure registry, safe in headless runs and threads.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["require_matplotlib", "has_matplotlib", "new_figure", "finish", "figure_png_base64"]

_MISSING = (
    "plotting needs matplotlib, which is not installed: pip install 'chainrule[plot]' "
    "(the 'plot' extra)"
)


def has_matplotlib() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require_matplotlib() -> Any:
    """Import ``matplotlib.figure`` or raise an ImportError naming the ``plot`` extra."""
    try:
        from matplotlib import figure
    except ImportError as e:
        raise ImportError(_MISSING) from e
    return figure


def new_figure(width: float = 6.4, height: float = 4.0) -> tuple[Any, Any]:
    """A (figure, axes) pair without pyplot."""
    figure = require_matplotlib()
    fig = figure.Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def finish(fig: Any, path: Any = None) -> Any:
    """Save ``fig`` to ``path`` if given; return the figure."""
    if path is not None:
        fig.savefig(str(path), dpi=100)
    return fig


def figure_png_base64(fig: Any) -> str:
    """The figure as a base64 PNG (for a self-contained HTML ``<img src="data:…">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ---------------------------------------------------------------- SVG fallback (no matplotlib)

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def svg_lines(
    series: dict[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    logy: bool = False,
    xs: Sequence[float] | None = None,
    logx: bool = False,
    width: int = 560,
    height: int = 300,
) -> str:
    """A small inline SVG line chart (used when matplotlib is not installed)."""

    def tr(v: float, log: bool) -> float | None:
        if v is None or not math.isfinite(v):
            return None
        if log:
            return math.log10(v) if v > 0 else None
        return float(v)

    pts: dict[str, list[tuple[float, float]]] = {}
    for name, ys in series.items():
        xv = list(xs) if xs is not None else list(range(1, len(ys) + 1))
        p = []
        for x, y in zip(xv, ys):
            tx, ty = tr(x, logx), tr(y, logy)
            if tx is not None and ty is not None:
                p.append((tx, ty))
        pts[name] = p
    allp = [q for p in pts.values() for q in p]
    m = 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<rect width="{width}" height="{height}" fill="white" stroke="#ccc"/>',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">'
        f"{html.escape(title)}</text>",
    ]
    if allp:
        x0, x1 = min(q[0] for q in allp), max(q[0] for q in allp)
        y0, y1 = min(q[1] for q in allp), max(q[1] for q in allp)
        x1 = x1 if x1 > x0 else x0 + 1
        y1 = y1 if y1 > y0 else y0 + 1

        def sx(x: float) -> float:
            return m + (x - x0) / (x1 - x0) * (width - 2 * m)

        def sy(y: float) -> float:
            return height - m - (y - y0) / (y1 - y0) * (height - 2 * m)

        out.append(
            f'<line x1="{m}" y1="{height - m}" x2="{width - m}" y2="{height - m}" stroke="#333"/>'
        )
        out.append(f'<line x1="{m}" y1="{m}" x2="{m}" y2="{height - m}" stroke="#333"/>')
        fmt = (lambda v: f"1e{v:.1f}") if logy else (lambda v: f"{v:.3g}")
        out.append(f'<text x="2" y="{m}" font-size="10">{fmt(y1)}</text>')
        out.append(f'<text x="2" y="{height - m}" font-size="10">{fmt(y0)}</text>')
        for k, (name, p) in enumerate(pts.items()):
            c = _COLORS[k % len(_COLORS)]
            if len(p) > 1:
                path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
                out.append(
                    f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>'
                )
            elif p:
                out.append(
                    f'<circle cx="{sx(p[0][0]):.1f}" cy="{sy(p[0][1]):.1f}" r="3" fill="{c}"/>'
                )
            out.append(
                f'<text x="{width - m - 120}" y="{m + 14 * k}" font-size="11" fill="{c}">'
                f"{html.escape(name)}</text>"
            )
    out.append(
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle" font-size="11">'
        f"{html.escape(xlabel)}</text>"
    )
    out.append(
        f'<text x="12" y="{height / 2}" font-size="11" transform="rotate(-90 12 {height / 2})" '
        f'text-anchor="middle">{html.escape(ylabel)}{" (log10)" if logy else ""}</text>'
    )
    out.append("</svg>")
    return "".join(out)
