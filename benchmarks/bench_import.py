"""Cold import time: ``import chainrule`` vs ``import numpy`` alone vs ``import torch``.

Each figure is the best of 5 fresh interpreter processes (the import is timed inside the
process with perf_counter, so interpreter start-up is excluded), with bytecode caching on (into a
temporary ``PYTHONPYCACHEPREFIX``, filled by one untimed import first): an installed package has
its ``.pyc`` files, while ``PYTHONDONTWRITEBYTECODE=1`` (set on some machines, this project's
among them) would make every run compile chainrule's sources again and time the compiler.
Target: chainrule ≤ 0.15 s.

Run: .venv/bin/python benchmarks/bench_import.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cold_import(module: str, repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds to import ``module`` in a fresh interpreter, timed inside it,
    with its bytecode cached as in an installed package."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        run = [sys.executable, "-c", code]
        subprocess.run(run, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
        best = float("inf")
        for _ in range(repeats):
            out = subprocess.run(run, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
            best = min(best, float(out.stdout.strip()))
    return best


def main() -> None:
    """Print the cold import times and chainrule's margin over NumPy."""
    np_t = cold_import("numpy")
    cr_t = cold_import("chainrule")
    try:
        torch_t = cold_import("torch")
    except subprocess.CalledProcessError:
        torch_t = float("nan")
    print("cold import, best of 5 fresh processes, bytecode cached")
    print(f"  numpy alone      {np_t:7.3f} s")
    print(f"  chainrule        {cr_t:7.3f} s  (incl. numpy; {cr_t - np_t:.3f} s of its own)")
    print(f"  torch            {torch_t:7.3f} s")
    print(f"  chainrule/torch  {cr_t / torch_t:7.3f}    target: chainrule <= 0.150 s")


if __name__ == "__main__":
    main()
