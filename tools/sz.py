"""Line counts of the core (autograd/ + ops/ + _tensor.py) and of the whole package.

Reported, not gated (DESIGN §7, tinygrad's sz.py). Counts non-blank lines that are not pure
comments, per file, so a PR's review can see where code grew.

Run: .venv/bin/python tools/sz.py
"""

from __future__ import annotations

import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "chainrule"


def code_lines(path: Path) -> int:
    """Non-blank lines that are not ``#`` comments."""
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            n += 1
    return n


def _is_core(rel: Path) -> bool:
    return rel.parts[0] in ("autograd", "ops") or rel.as_posix() == "_tensor.py"


def main() -> None:
    """Print per-file counts for the core, then the core and package totals."""
    files = sorted(PKG.rglob("*.py"))
    core_total = 0
    total = 0
    by_top: dict[str, int] = {}
    print(f"{'core file':<44}{'lines':>7}")
    for f in files:
        rel = f.relative_to(PKG)
        n = code_lines(f)
        total += n
        top = rel.parts[0] if len(rel.parts) > 1 else "(top-level modules)"
        by_top[top] = by_top.get(top, 0) + n
        if _is_core(rel):
            core_total += n
            print(f"{rel.as_posix():<44}{n:>7}")
    print(f"\n{'subpackage':<44}{'lines':>7}")
    for top, n in sorted(by_top.items()):
        print(f"{top:<44}{n:>7}")
    print(f"\ncore (autograd/ + ops/ + _tensor.py): {core_total} lines")
    print(f"whole package:                        {total} lines in {len(files)} files")
    engine = PKG / "autograd" / "engine.py"
    if engine.exists():
        n = code_lines(engine)
        note = "" if n <= 300 else "  (over the 300-line target)"
        print(f"autograd/engine.py:                   {n} lines{note}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
