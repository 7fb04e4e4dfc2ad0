"""Where the tiny model's training step goes: the NumPy ceiling against chainrule's overhead.

Prints, as CPU µs of the calling thread (``time.thread_time``, which preemption by other
processes on a shared machine does not inflate), best of 7 repetitions:

- the tiny model's step (32-64-64-2 MLP, batch 16, cross-entropy, SGD momentum 0.9) written by
  hand in NumPy with flat parameter/gradient buffers: the practical ceiling of any NumPy engine;
- the same step in chainrule (as in ``bench_train.py``);
- chainrule's Python overhead per recorded op, forward and backward, measured as the slope over
  a chain of 1 and 11 ``neg`` ops on a 4-element tensor (so NumPy's own work is ~0.3 µs).

Run: .venv/bin/python benchmarks/bench_tiny_overhead.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _best(fn: Callable[[], object], n: int, reps: int = 7) -> float:
    """Best CPU µs per call of ``fn`` over ``reps`` runs of ``n`` calls."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - t0) / n * 1e6)
    return best


def hand_numpy_step() -> Callable[[], float]:
    """The tiny step in plain NumPy: forward, fused log-softmax loss, backward, SGD momentum."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 32)).astype(np.float32)
    y = rng.integers(0, 2, 16)
    rows = np.arange(16)
    sizes = [(64, 32), (64, 64), (2, 64)]
    total = sum(o * i + o for o, i in sizes)
    flat, gflat, mom, tmp = (np.zeros(total, np.float32) for _ in range(4))
    ps, gs, off = [], [], 0
    for o, i in sizes:
        for shape in ((o, i), (o,)):
            k = int(np.prod(shape))
            ps.append(flat[off : off + k].reshape(shape))
            gs.append(gflat[off : off + k].reshape(shape))
            off += k
    flat[...] = rng.uniform(-0.1, 0.1, total)
    w1, b1, w2, b2, w3, b3 = ps

    def step() -> float:
        h1 = x @ w1.T
        h1 += b1
        a1 = np.maximum(h1, 0.0)
        h2 = a1 @ w2.T
        h2 += b2
        a2 = np.maximum(h2, 0.0)
        z = a2 @ w3.T
        z += b3
        s = z - np.maximum.reduce(z, axis=1, keepdims=True)
        logp = s - np.log(np.add.reduce(np.exp(s), axis=1, keepdims=True))
        loss = -np.add.reduce(logp[rows, y]) / 16.0
        g = np.exp(logp)
        g[rows, y] -= 1.0
        g *= 1.0 / 16
        np.matmul(g.T, a2, out=gs[4])
        np.add.reduce(g, axis=0, out=gs[5])
        g = g @ w3
        g *= h2 > 0
        np.matmul(g.T, a1, out=gs[2])
        np.add.reduce(g, axis=0, out=gs[3])
        g = g @ w2
        g *= h1 > 0
        np.matmul(g.T, x, out=gs[0])
        np.add.reduce(g, axis=0, out=gs[1])
        np.multiply(mom, 0.9, out=mom)
        np.add(mom, gflat, out=mom)
        np.multiply(mom, 0.01, out=tmp)
        np.subtract(flat, tmp, out=flat)
        return float(loss)

    return step


def chainrule_step() -> Callable[[], object]:
    """The tiny step in chainrule, built as ``bench_train.py`` builds it."""
    from bench_train import make_step  # benchmarks/ is on sys.path when run as a script

    import chainrule as cr

    step, _ = make_step(cr, "tiny", None)
    return step


def op_overhead() -> tuple[float, float]:
    """chainrule's µs per recorded op: (forward, backward), slope over 1 vs 11 chained ops."""
    import chainrule as cr

    x = cr.ones(4, requires_grad=True)

    def chain(k: int) -> object:
        y = x
        for _ in range(k):
            y = -y
        return y.sum()

    def bwd(k: int) -> float:
        best = float("inf")
        for _ in range(7):
            losses = [chain(k) for _ in range(2000)]
            t0 = time.thread_time()
            for loss in losses:
                loss.backward()
            best = min(best, (time.thread_time() - t0) / 2000 * 1e6)
        return best

    fwd = (_best(lambda: chain(11), 2000) - _best(lambda: chain(1), 2000)) / 10
    return fwd, (bwd(11) - bwd(1)) / 10


def main() -> None:
    """Print the three measurements and the load average."""
    import os

    print(f"load average {os.getloadavg()[0]:.2f}, CPU µs (thread time), best of 7")
    hand = hand_numpy_step()
    for _ in range(300):
        hand()
    print(f"hand-written NumPy tiny step: {_best(hand, 3000):6.1f} µs")
    step = chainrule_step()
    for _ in range(300):
        step()
    print(f"chainrule tiny step:          {_best(step, 3000):6.1f} µs")
    fwd, bwd = op_overhead()
    print(f"chainrule per recorded op:    {fwd:6.2f} µs forward, {bwd:.2f} µs backward (neg chain)")


if __name__ == "__main__":
    main()
