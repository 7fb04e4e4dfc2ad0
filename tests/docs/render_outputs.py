"""Run documentation pages and write each Python block's printed output into the
```` ```text title="Output" ```` block that follows it (inserted when missing for blocks that
print). Figures the blocks save with relative paths land next to the page.

    .venv/bin/python tests/docs/render_outputs.py docs/course/01_single_neuron.md [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _docs_pages import blocks, run_page  # noqa: E402


def render(path: Path) -> None:
    """Re-run ``path`` (cwd = its directory) and rewrite its output blocks."""
    outputs = {b.start: out for b, out in run_page(path, path.parent)}
    lines = path.read_text(encoding="utf-8").split("\n")
    bs = blocks("\n".join(lines))
    # Work bottom-up so earlier line numbers stay valid.
    for k in range(len(bs) - 1, -1, -1):
        b = bs[k]
        if b.start not in outputs:
            continue
        out = outputs[b.start].rstrip("\n")
        nxt = bs[k + 1] if k + 1 < len(bs) else None
        follows = (
            nxt is not None
            and nxt.is_output
            and all(not ln.strip() for ln in lines[b.end + 1 : nxt.start])
        )
        new = ['```text title="Output"', *out.split("\n"), "```"] if out else []
        if follows:
            lines[b.end + 1 : nxt.end + 1] = ([""] + new) if new else []
        elif new:
            lines[b.end + 1 : b.end + 1] = ["", *new]
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"rendered {path}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        render(Path(arg).resolve())
