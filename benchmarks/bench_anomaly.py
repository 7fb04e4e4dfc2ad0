"""Cost of anomaly detection on one MLP training step (forward + backward + SGD update).

Run: .venv/bin/python benchmarks/bench_anomaly.py
Prints the median step time without and with ``diagnose.detect_anomaly()`` and their ratio
(issue 9 asks for ≤ 2×), and torch's ratio for ``torch.autograd.detect_anomaly`` if installed.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chainrule as cr  # noqa: E402
from chainrule import diagnose, nn, optim  # noqa: E402


def _time(step, n: int = 200, repeat: int = 5) -> float:
    for _ in range(20):
        step()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            step()
        runs.append((time.perf_counter() - t) / n)
    return statistics.median(runs)


def main() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))  # fmt: skip
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = cr.randn(32, 64), cr.randint(0, 10, (32,))
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    base = _time(step)
    with diagnose.detect_anomaly():
        anom = _time(step)
    print(f"chainrule MLP step: {base * 1e6:.1f} µs; with detect_anomaly: {anom * 1e6:.1f} µs; "
          f"ratio {anom / base:.2f}×")  # fmt: skip
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    tm = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                             torch.nn.ReLU(), torch.nn.Linear(64, 10))  # fmt: skip
    topt = torch.optim.SGD(tm.parameters(), lr=0.01)
    tx, ty = torch.randn(32, 64), torch.randint(0, 10, (32,))
    tl = torch.nn.CrossEntropyLoss()

    def tstep() -> None:
        topt.zero_grad()
        tl(tm(tx), ty).backward()
        topt.step()

    tb = _time(tstep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            ta = _time(tstep, n=50)
    print(f"torch MLP step:     {tb * 1e6:.1f} µs; with detect_anomaly: {ta * 1e6:.1f} µs; "
          f"ratio {ta / tb:.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
