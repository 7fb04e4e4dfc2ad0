"""erf and exact GELU (forward + backward), chainrule vs torch in the same process.

Cases: ``erf(x)`` and ``F.gelu(x)`` forward + ``backward`` on standard-normal inputs of 1e3, 1e5
and 1e6 elements, float32 and float64, through the public API (Tensor in, Tensor out, autograd
included). Each round times torch then chainrule (alternating, so machine noise hits both); a
case's time is the best of ``--reps`` calls in the round, and the median over ``--rounds``
rounds is reported in µs with the ratio chainrule ÷ torch (< 1 means chainrule is faster).

Times are this thread's CPU time (``time.thread_time``), so other processes on a shared
machine inflate them less than wall time; torch runs with ``--torch-threads`` (default 1: the
same single core NumPy's elementwise ufuncs use).

Run: ``python benchmarks/bench_erf.py [--rounds 5] [--reps 5] [--sizes 1000,100000,1000000]
[--torch-threads 1] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

import chainrule as cr
import chainrule.nn.functional as crF


def _best(fn: Callable[[], None], reps: int) -> float:
    """Best thread-CPU time of ``reps`` calls, in µs."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time_ns()
        fn()
        best = min(best, time.thread_time_ns() - t0)
    return best / 1e3


def _cases(torch, sizes: list[int]) -> list[tuple[str, Callable[[], None], Callable[[], None]]]:
    """(name, torch step, chainrule step) for every op × size × dtype."""
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        for dt in (np.float32, np.float64):
            x = rng.standard_normal(n).astype(dt)
            g = rng.standard_normal(n).astype(dt)
            tx, tg = torch.from_numpy(x), torch.from_numpy(g)
            cx, cg = cr.from_numpy(x), cr.from_numpy(g)
            tag = f"{n:>7} {np.dtype(dt).name}"

            def t_erf(tx=tx):
                torch.erf(tx)

            def c_erf(cx=cx):
                cr.erf(cx)

            def t_gelu(x=x, tg=tg):
                xt = torch.from_numpy(x).requires_grad_()
                torch.nn.functional.gelu(xt).backward(tg)

            def c_gelu(x=x, cg=cg):
                xc = cr.from_numpy(x).requires_grad_()
                crF.gelu(xc).backward(cg)

            out.append((f"erf        {tag}", t_erf, c_erf))
            out.append((f"gelu f+b   {tag}", t_gelu, c_gelu))
    return out


def main() -> None:
    """Run the alternating rounds and print (or dump as JSON) the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.torch_threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = _cases(torch, sizes)
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _, _ in cases}
    for _name, t_fn, c_fn in cases:  # warm-up (first-call allocations, lazy imports)
        t_fn()
        c_fn()
    for _ in range(args.rounds):
        for name, t_fn, c_fn in cases:
            reps = max(1, args.reps if "1000000" not in name else args.reps // 2)
            times[name][0].append(_best(t_fn, reps))
            times[name][1].append(_best(c_fn, reps))
    rows = []
    for name, (tt, ct) in times.items():
        t_med, c_med = statistics.median(tt), statistics.median(ct)
        rows.append(
            {"case": name, "torch_us": t_med, "chainrule_us": c_med, "ratio": c_med / t_med}
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"torch threads {args.torch_threads}, rounds {args.rounds}, thread CPU µs (median)")
    print(f"{'case':<28} {'torch':>10} {'chainrule':>10} {'cr/torch':>9}")
    for r in rows:
        print(
            f"{r['case']:<28} {r['torch_us']:>10.1f} {r['chainrule_us']:>10.1f} {r['ratio']:>9.2f}"
        )


if __name__ == "__main__":
    main()
