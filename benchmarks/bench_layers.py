"""Forward + backward of single layers, chainrule vs torch in the same process (issue 4).

Layers (float32, the issue's sizes): Linear 784→512 (b128), Conv2d 32→64 3×3 on 14×14 (b64),
MaxPool2d 2 on (64, 32, 28, 28), LSTM 64→256 (seq 64, b32), MultiheadAttention (b32, L64,
E128, 4 heads). Each round runs torch then chainrule (alternating, so machine noise hits
both), and the median of ``--rounds`` rounds is reported as time per step and the ratio
torch_time / chainrule_time (> 1 means chainrule is faster). torch runs with 2 threads.

Run: ``python benchmarks/bench_layers.py [--rounds 5] [--only lstm] [--json] [--torch-threads 2]``

``--cnn-ops`` instead profiles every op of ``bench_train.py``'s CNN training step on its own
shapes: CPU µs of each op call's forward and of its VJP in chainrule (1 thread, per call site,
mean over 30 steps), next to torch's per-op self CPU time from ``torch.profiler``.

On a shared, loaded machine torch's (and OpenBLAS's) spinning worker threads make every figure
noisy; report the load average next to the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

import chainrule as cr


def _layer_cases(torch):
    rng = np.random.default_rng(0)

    def linear(lib):
        m = lib.nn.Linear(784, 512)
        return m, [rng.standard_normal((128, 784)).astype(np.float32)], lambda m, x: m(x)

    def conv(lib):
        m = lib.nn.Conv2d(32, 64, 3, padding=1)
        return m, [rng.standard_normal((64, 32, 14, 14)).astype(np.float32)], lambda m, x: m(x)

    def pool(lib):
        m = lib.nn.MaxPool2d(2)
        return m, [rng.standard_normal((64, 32, 28, 28)).astype(np.float32)], lambda m, x: m(x)

    def lstm(lib):
        m = lib.nn.LSTM(64, 256)
        return m, [rng.standard_normal((64, 32, 64)).astype(np.float32)], lambda m, x: m(x)[0]

    def mha(lib):
        m = lib.nn.MultiheadAttention(128, 4, batch_first=True)
        x = rng.standard_normal((32, 64, 128)).astype(np.float32)
        return m, [x], lambda m, x: m(x, x, x, need_weights=False)[0]

    return {"linear": linear, "conv2d": conv, "maxpool2d": pool, "lstm": lstm, "mha": mha}


def _runner(lib, make: Callable, torch) -> Callable[[], None]:
    """One forward+backward step of the layer in ``lib`` (weights copied from torch's)."""
    t_mod, arrays, call = make(torch)
    if lib is torch:
        mod = t_mod
        xs = [torch.from_numpy(a).requires_grad_(True) for a in arrays]
    else:
        mod, _, _ = make(cr)
        if list(mod.state_dict()):
            mod.load_state_dict({k: cr.tensor(v.numpy()) for k, v in t_mod.state_dict().items()})
        xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    params = list(mod.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        for x in xs:
            x.grad = None
        y = call(mod, *xs)
        y.sum().backward()

    return step


def cnn_ops(steps: int = 30) -> None:
    """Per-op CPU µs of the CNN step of bench_train.py: chainrule forward/VJP per call site
    (every registered op wrapped with a timer), then torch's profiler table (1 thread each)."""
    import sys
    from collections import defaultdict
    from pathlib import Path

    import torch
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_train import _net, make_step

    from chainrule.ops._registry import REGISTRY

    torch.set_num_threads(1)
    torch.manual_seed(0)
    state = {k: v.detach().numpy().copy() for k, v in _net(torch, "cnn")[0].state_dict().items()}
    acc: dict[str, float] = defaultdict(float)
    seen: dict[str, int] = defaultdict(int)

    def timed(name: str, fn: Callable) -> Callable:
        def run(*args, **kw):
            i = seen[name]
            seen[name] += 1
            t = time.thread_time()
            out, vjp = fn(*args, **kw)
            acc[f"{name}#{i} forward"] += time.thread_time() - t

            def timed_vjp(g, needs):
                t = time.thread_time()
                res = vjp(g, needs)
                acc[f"{name}#{i} vjp"] += time.thread_time() - t
                return res

            return out, timed_vjp

        return run

    c_step, _ = make_step(cr, "cnn", state)
    c_step()  # imports everything the step uses (ops register on import)
    saved = {name: od.fn for name, od in REGISTRY.items()}
    try:
        for name, od in REGISTRY.items():
            od.fn = timed(name, od.fn)
        with threadpool_limits(1, user_api="blas"):
            for rep in range(steps + 5):
                seen.clear()
                if rep == 5:  # warm-up done
                    acc.clear()
                c_step()
    finally:
        for name, fn in saved.items():
            REGISTRY[name].fn = fn
    print(f"chainrule, CPU µs per step (1 thread, mean of {steps} steps), op#call-site:")
    for key in sorted(acc, key=lambda k: -acc[k]):
        print(f"  {key:28s} {acc[key] / steps * 1e6:9.0f}")
    print(f"  {'total in ops':28s} {sum(acc.values()) / steps * 1e6:9.0f}")
    t_step, _ = make_step(torch, "cnn", state)
    for _ in range(5):
        t_step()
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            t_step()
    print(f"torch, self CPU µs per step (1 thread, mean of {steps} steps):")
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    for e in rows[:16]:
        print(f"  {e.key:40s} {e.self_cpu_time_total / steps:9.0f}  ({e.count // steps} calls)")
    total = sum(e.self_cpu_time_total for e in rows)
    print(f"  {'total':40s} {total / steps:9.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3, help="steps per timed round")
    ap.add_argument("--only", default=None, help="comma-separated subset of layer names")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (2)")
    ap.add_argument(
        "--cnn-ops",
        action="store_true",
        help="instead: CPU µs per op (forward and VJP) of bench_train's CNN step, and torch's",
    )
    args = ap.parse_args()
    if args.cnn_ops:
        cnn_ops()
        return
    import torch

    torch.set_num_threads(args.torch_threads)
    cases = _layer_cases(torch)
    names = args.only.split(",") if args.only else list(cases)
    results = {}
    for name in names:
        run_t = _runner(torch, cases[name], torch)
        run_c = _runner(cr, cases[name], torch)
        run_t()
        run_c()  # warm-up: first-call allocations, BLAS thread start
        times: dict[str, list[float]] = {"torch": [], "chainrule": []}
        for _ in range(args.rounds):
            for label, fn in (("torch", run_t), ("chainrule", run_c)):
                t0 = time.perf_counter()
                for _ in range(args.reps):
                    fn()
                times[label].append((time.perf_counter() - t0) / args.reps)
        t_med = statistics.median(times["torch"])
        c_med = statistics.median(times["chainrule"])
        results[name] = {
            "torch_ms": t_med * 1e3,
            "chainrule_ms": c_med * 1e3,
            "ratio": t_med / c_med,
        }
        if not args.json:
            print(
                f"{name:10s} torch {t_med * 1e3:8.2f} ms   chainrule {c_med * 1e3:8.2f} ms   "
                f"ratio (torch/chainrule) {t_med / c_med:5.2f}x",
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
