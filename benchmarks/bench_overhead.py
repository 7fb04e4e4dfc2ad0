"""Per-op framework overhead: forward + backward on tiny tensors, chainrule vs torch.

Small models are overhead-bound, so this measures what one recorded op costs end to end
(argument handling, graph recording, the backward pass). Both frameworks run in the same
process, in alternating rounds; each figure is the median over the rounds. torch runs with
set_num_threads(2) by default (this machine has 2 cores; NumPy's BLAS uses its default). The
load average is printed: on a shared machine torch's thread pool suffers more from
contention than single-threaded NumPy, so compare ratios from quiet runs.

Run: .venv/bin/python benchmarks/bench_overhead.py [--rounds 7] [--quick] [--torch-threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chainrule as cr  # noqa: E402


def _cases(m: Any, to_t: Any) -> dict[str, Any]:
    """name -> zero-argument callable doing one forward + backward with framework ``m``."""
    rng = np.random.default_rng(0)

    def leaf(*shape: int) -> Any:
        t = to_t(rng.standard_normal(shape).astype(np.float32))
        t.requires_grad_(True)
        return t

    a, b = leaf(8), leaf(8)
    ga = to_t(np.ones(8, np.float32))
    p, q = leaf(16, 16), leaf(16, 16)
    gm = to_t(np.ones((16, 16), np.float32))
    x = leaf(4, 8)
    gi = to_t(np.ones((2, 8), np.float32))

    def run_add() -> None:
        (a + b).backward(ga)

    def run_mul() -> None:
        (a * b).backward(ga)

    def run_matmul() -> None:
        (p @ q).backward(gm)

    def run_sum() -> None:
        a.sum().backward()

    def run_relu() -> None:
        a.relu().backward(ga)

    def run_index() -> None:
        x[1:3].backward(gi)

    z = leaf(16, 64)
    gz = to_t(np.ones((16, 64), np.float32))
    gv = to_t(np.ones((16, 8, 8), np.float32))

    def run_view() -> None:
        z.view(16, 8, -1).backward(gv)

    def run_log_softmax() -> None:
        m.nn.functional.log_softmax(z, dim=1).backward(gz)

    return {
        "add": run_add,
        "mul": run_mul,
        "matmul 16x16": run_matmul,
        "sum": run_sum,
        "relu": run_relu,
        "indexing x[1:3]": run_index,
        "view (16,8,-1)": run_view,
        "log_softmax 16x64": run_log_softmax,
        "mlp step": _mlp_step(m, to_t),
    }


def _mlp_step(m: Any, to_t: Any) -> Any:
    """One SGD step of a 64-64-64-10 MLP on a batch of 32, written with raw tensor ops."""
    rng = np.random.default_rng(1)
    sizes = [(64, 64), (64, 64), (64, 10)]
    params = []
    for fan_in, fan_out in sizes:
        w = to_t((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32))
        b = to_t(np.zeros(fan_out, np.float32))
        params += [w.requires_grad_(True), b.requires_grad_(True)]
    x = to_t(rng.standard_normal((32, 64)).astype(np.float32))
    y = to_t(rng.standard_normal((32, 10)).astype(np.float32))
    w1, b1, w2, b2, w3, b3 = params

    def step() -> None:
        h = (x @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        loss = ((h @ w3 + b3) - y).square().mean()
        loss.backward()
        with m.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad = None

    return step


def _time(fn: Any, n: int) -> float:
    """µs per call over ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    """Run the benchmark and print µs per call and the chainrule/torch ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer iterations per round")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (2)")
    args = ap.parse_args()
    import os

    import torch

    torch.set_num_threads(args.torch_threads)
    ours = _cases(cr, cr.from_numpy)
    theirs = _cases(torch, torch.from_numpy)
    n_iter = 200 if args.quick else 2000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"chainrule vs torch {torch.__version__} (torch.set_num_threads({args.torch_threads}), "
        f"{os.cpu_count()} CPUs, load average {load:.1f}); forward+backward,"
    )
    print(f"median of {args.rounds} alternating rounds x {n_iter} calls (mlp: /10)\n")
    print(f"{'case':<18}{'chainrule µs':>14}{'torch µs':>12}{'ratio':>9}")
    for name in ours:
        n = n_iter // 10 if name == "mlp step" else n_iter
        for fn in (ours[name], theirs[name]):  # warm up
            _time(fn, max(n // 10, 5))
        c_times, t_times = [], []
        for r in range(args.rounds):
            pair = [(ours[name], c_times), (theirs[name], t_times)]
            for fn, out in pair if r % 2 == 0 else pair[::-1]:
                out.append(_time(fn, n))
        c, t = statistics.median(c_times), statistics.median(t_times)
        print(f"{name:<18}{c:>14.1f}{t:>12.1f}{c / t:>9.2f}")


if __name__ == "__main__":
    main()
