"""Run documentation pages and write each Python block's printed output into the
```` ```text title="Output" ```` block that follows it (inserted when missing for blocks that
print). Pages run in a temporary directory; the figures they save under ``figures/`` are copied
next to the page.

    .venv/bin/python tests/docs/render_outputs.py docs/course/01_single_neuron.md [...]
    .venv/bin/python tests/docs/render_outputs.py --check docs/**/*.md   # report stale pages

``--check`` writes nothing (figures neither) and exits 1 when a page's shown output differs from
what its code prints now (numbers move when the library changes; re-render those pages).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _docs_pages import blocks, run_page  # noqa: E402


def render(path: Path, check: bool = False) -> bool:
    """Re-run ``path`` and rewrite its output blocks; returns whether the page was up to date."""
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {b.start: out for b, out in run_page(path, Path(tmp))}
        # Keep only the figures; anything else a page writes (data, checkpoints) is scratch.
        for fig in (Path(tmp) / "figures").glob("*") if not check else ():
            (path.parent / "figures").mkdir(exist_ok=True)
            shutil.copy(fig, path.parent / "figures" / fig.name)
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
    text = "\n".join(lines)
    fresh = text == path.read_text(encoding="utf-8")
    if check:
        print(f"{'up to date' if fresh else 'STALE'}: {path}")
    else:
        path.write_text(text, encoding="utf-8")
        print(f"rendered {path}")
    return fresh


if __name__ == "__main__":
    check = "--check" in sys.argv[1:]
    results = [render(Path(a).resolve(), check) for a in sys.argv[1:] if a != "--check"]
    sys.exit(0 if all(results) or not check else 1)
