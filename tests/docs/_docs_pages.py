"""Find the Python code blocks of the documentation pages and run them (shared by the test and
by ``render_outputs.py``).

A page's ```` ```python ```` blocks run in order in one fresh namespace (a page reads like a
notebook: later blocks use earlier names). A block whose info string is ``python no-run`` is
shown, not run (say why in the text around it). A ```` ```text title="Output" ```` block right
after a Python block is that block's printed output, written by ``render_outputs.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# Pages whose blocks are not run here, with the reason. README.md is run by
# tests/train/test_readme.py, so it is not collected at all.
SKIP_PAGES: dict[str, str] = {
    "distributed.md": (
        "fragments of the reader's own script (MyNet, train_set) meant for `mpirun -n N`; the "
        "same API runs under mpirun in tests/distributed"
    ),
}

# Optional packages a page may import; a page that imports a missing one is skipped.
OPTIONAL = ("torch", "onnx", "onnxruntime", "matplotlib", "mpi4py")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


@dataclass
class Block:
    """One fenced code block: its info string, code and the line range it spans (0-based)."""

    info: str
    code: str
    start: int  # the opening fence's line
    end: int  # the closing fence's line

    @property
    def lang(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def runs(self) -> bool:
        return self.lang == "python" and "no-run" not in self.info.split()[1:]

    @property
    def is_output(self) -> bool:
        return self.lang == "text" and 'title="Output"' in self.info


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text (indented fences inside lists included)."""
    lines = text.split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        j = i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence) and set(lines[j].strip()) <= set(fence[0])
        ):
            j += 1
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : j]]
        out.append(Block(info, "\n".join(body) + "\n", i, j))
        i = j + 1
    return out


def pages() -> list[Path]:
    """Every Markdown page under docs/ that has at least one Python block."""
    found = []
    for p in sorted(DOCS.rglob("*.md")):
        if any(b.lang == "python" for b in blocks(p.read_text(encoding="utf-8"))):
            found.append(p)
    return found


def missing_optional(code: str) -> list[str]:
    """Optional packages the code imports that are not installed."""
    import importlib.util

    missing = []
    for name in OPTIONAL:
        imported = re.search(rf"^\s*(import|from)\s+{name}\b", code, re.M)
        # chainrule's .plot(...) methods (History, lr_find, health, multi_seed) draw with it
        imported = imported or (name == "matplotlib" and ".plot(" in code)
        if imported and importlib.util.find_spec(name) is None:
            missing.append(name)
    return missing


def run_page(path: Path, cwd: Path) -> list[tuple[Block, str]]:
    """Run the page's runnable blocks in order in one namespace with ``cwd`` as the working
    directory; returns each block with what it printed. An exception names the block's line."""
    import chainrule as cr

    text = path.read_text(encoding="utf-8")
    ns: dict = {"__name__": "__main__"}
    results = []
    old = Path.cwd()
    os.chdir(cwd)
    os.environ.setdefault("MPLBACKEND", "Agg")
    cr.manual_seed(0)
    stack = contextlib.ExitStack()
    try:
        try:  # why: small models run faster (and print the same digits) on one BLAS thread
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1))
        except ImportError:
            pass
        for b in blocks(text):
            if not b.runs:
                continue
            buf = io.StringIO()
            name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            code = compile(b.code, f"{name}:{b.start + 2}", "exec")
            with contextlib.redirect_stdout(buf):
                exec(code, ns)  # noqa: S102 - running the documentation is the point
            results.append((b, buf.getvalue()))
    finally:
        stack.close()
        os.chdir(old)
        _close_figures()
    return results


def _close_figures() -> None:
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
