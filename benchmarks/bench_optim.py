"""Optimizer step time, chainrule vs torch, on the same parameter sets in one process.

Parameter sets:
  mlp       MLP 784-512-512-10 (6 tensors, 669,706 parameters)
  mlp+conv  the MLP plus conv(1→32, 3×3) and conv(32→64, 3×3) (10 tensors, 688,522 parameters)
  tiny      MLP 32-64-64-2 (6 tensors, 6,402 parameters: pure per-call overhead)
For each set and optimizer (SGD momentum 0.9, Adam) one ``step()`` is timed with gradients
present (chainrule's in the optimizer's gradient buffer, where backward puts them). Rounds
alternate torch and chainrule; the figure is the median over 5 rounds of the per-round mean,
torch limited to 2 threads. chainrule splits buckets of >= 128k elements over two threads when
its first steps measure that to be faster (bit-identical either way).
Ratio = torch time / chainrule time (> 1: chainrule faster).
Run: .venv/bin/python benchmarks/bench_optim.py [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chainrule as cr  # noqa: E402

MLP = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]
SETS = {
    "mlp": MLP,
    "mlp+conv": MLP + [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,)],
    "tiny": [(64, 32), (64,), (64, 64), (64,), (2, 64), (2,)],
}


def make(lib, shapes, opt_name):
    """Parameters with gradients, and the optimizer (SGD momentum or Adam) over them."""
    import torch

    rng = np.random.default_rng(0)
    ps = []
    for s in shapes:
        a = (rng.standard_normal(s) * 0.05).astype(np.float32)
        ps.append(
            torch.tensor(a, requires_grad=True)
            if lib == "torch"
            else cr.tensor(a, requires_grad=True)
        )
    mod = torch.optim if lib == "torch" else cr.optim
    opt = mod.SGD(ps, lr=0.01, momentum=0.9) if opt_name == "sgd" else mod.Adam(ps, lr=1e-3)
    opt.zero_grad()
    for p, s in zip(ps, shapes, strict=True):
        g = (rng.standard_normal(s) * 0.01).astype(np.float32)
        if lib == "torch":
            p.grad = torch.from_numpy(g)
        else:
            # Where backward writes gradients (the optimizer's flat buffer).
            np.copyto(p._grad_buf, g)
            p.grad = cr.Tensor(p._grad_buf)
    for _ in range(10):  # warm-up: state allocated (and chainrule's thread calibration done)
        opt.step()
    return opt


def time_steps(opt, n):
    """Mean seconds per ``step()`` over ``n`` steps."""
    t = time.perf_counter()
    for _ in range(n):
        opt.step()
    return (time.perf_counter() - t) / n


def main() -> None:
    """Print (or dump as JSON) per-set, per-optimizer step times and ratios."""
    import torch

    torch.set_num_threads(2)
    results = []
    for set_name, shapes in SETS.items():
        n = 2000 if set_name == "tiny" else 50
        for opt_name in ("sgd", "adam"):
            t_opt, c_opt = make("torch", shapes, opt_name), make("cr", shapes, opt_name)
            tt, ct = [], []
            for _ in range(5):
                tt.append(time_steps(t_opt, n))
                ct.append(time_steps(c_opt, n))
            t_med, c_med = statistics.median(tt), statistics.median(ct)
            ratios = [a / b for a, b in zip(tt, ct, strict=True)]
            results.append(
                {
                    "set": set_name,
                    "optimizer": opt_name,
                    "params": int(sum(np.prod(s) for s in shapes)),
                    "torch_us": t_med * 1e6,
                    "chainrule_us": c_med * 1e6,
                    "ratio": statistics.median(ratios),
                }
            )
    if "--json" in sys.argv:
        print(json.dumps(results, indent=1))
        return
    print(f"{'set':10s} {'opt':5s} {'params':>9s} {'torch µs':>10s} {'chainrule µs':>13s} ratio")
    for r in results:
        print(
            f"{r['set']:10s} {r['optimizer']:5s} {r['params']:9d} {r['torch_us']:10.1f} "
            f"{r['chainrule_us']:13.1f} {r['ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
