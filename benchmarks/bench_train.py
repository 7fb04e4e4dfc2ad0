"""End-to-end training-step throughput, chainrule vs torch, on the four models of issue 12.

Each model is written ONCE against a library module ``L`` (``torch`` or ``chainrule``): the
chainrule copy loads torch's initial ``state_dict`` (same weights), and both train on the same
fixed batch. A step is ``zero_grad``, forward, cross-entropy loss, backward, (clip_grad_norm_),
optimizer step. Rounds alternate torch / chainrule in one process (the machine is shared and
noisy, so only in-process ratios mean anything); each figure is the median over the rounds.
torch runs with ``torch.set_num_threads(2)`` (this machine has 2 cores); NumPy's BLAS uses its
default on this 2-core machine (2 threads). ``--torch-threads 2,1`` (the default) also measures
both at 1 thread (NumPy's BLAS limited with threadpoolctl): on a loaded machine, spinning
thread pools (torch's OpenMP, OpenBLAS) lose far more than they gain, so the 1-thread ratio is
the like-for-like one there. At 1 thread the script also divides by the CPU time of the calling
thread (``time.thread_time``), which preemption by other processes does not inflate: the
steadiest ratio on a shared machine. The load average before and after is printed, and the
BLAS kernel OpenBLAS picked (``threadpoolctl``'s ``architecture``).

Models (samples = rows for the MLPs/CNN, sequences for the LSTM):
  tiny  MLP 32-64-64-2, batch 16, SGD(lr=0.01, momentum=0.9)
  mlp   MLP 784-512-512-10, batch 128, SGD(lr=0.01, momentum=0.9)
  cnn   conv(1→32,3,p1)-relu-maxpool2-conv(32→64,3,p1)-relu-maxpool2-fc(3136→128)-relu-fc(→10),
        28×28 input, batch 64, Adam(lr=1e-3)
  lstm  embedding 65×64, LSTM(64→256), seq 64, batch 32, linear head 256→65, Adam(lr=1e-3),
        clip_grad_norm_(1.0), loss over every time step

Run: .venv/bin/python benchmarks/bench_train.py [--rounds 7] [--models tiny,mlp] [--json out.json]
     [--seconds 1.0] [--torch-threads 2] [--size] [--import]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("tiny", "mlp", "cnn", "lstm")
GOALS = {"tiny": 3.0, "mlp": 1.0, "cnn": 0.9, "lstm": 0.6}


def _net(L: Any, name: str) -> tuple[Any, Any, Any, float]:
    """The model ``name`` built with library ``L``; returns (model, x, y, max_norm or 0)."""
    nn = L.nn
    rng = np.random.default_rng(0)
    if name == "tiny":
        model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                              nn.Linear(64, 2))  # fmt: skip
        x = rng.standard_normal((16, 32)).astype(np.float32)
        y = rng.integers(0, 2, 16)
        return model, x, y, 0.0
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10))  # fmt: skip
        x = rng.standard_normal((128, 784)).astype(np.float32)
        y = rng.integers(0, 10, 128)
        return model, x, y, 0.0
    if name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
        )  # fmt: skip
        x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        return model, x, y, 0.0
    if name == "lstm":

        class CharLSTM(nn.Module):
            """Embedding 65×64 → LSTM 256 → linear head over every time step."""

            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(65, 64)
                self.rnn = nn.LSTM(64, 256, batch_first=True)
                self.head = nn.Linear(256, 65)

            def forward(self, idx: Any) -> Any:
                h, _ = self.rnn(self.emb(idx))
                return self.head(h).reshape(-1, 65)

        x = rng.integers(0, 65, (32, 64))
        y = rng.integers(0, 65, 32 * 64)
        return CharLSTM(), x, y, 1.0
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def make_step(L: Any, name: str, state: dict[str, np.ndarray] | None) -> tuple[Callable, int]:
    """A zero-argument training step of ``name`` in library ``L`` and its samples per step.

    ``state`` (name -> ndarray) is loaded into the model so both libraries start equal.
    """
    model, x, y, max_norm = _net(L, name)
    if state is not None:
        model.load_state_dict({k: L.tensor(v) for k, v in state.items()})
    xt = L.tensor(x) if x.dtype != np.int64 else L.tensor(x, dtype=L.long)
    yt = L.tensor(y, dtype=L.long)
    params = list(model.parameters())
    if name in ("tiny", "mlp"):
        opt = L.optim.SGD(params, lr=0.01, momentum=0.9)
    else:
        opt = L.optim.Adam(params, lr=1e-3)
    cross_entropy = L.nn.functional.cross_entropy
    clip = L.nn.utils.clip_grad_norm_

    def step() -> float:
        opt.zero_grad()
        loss = cross_entropy(model(xt), yt)
        loss.backward()
        if max_norm:
            clip(params, max_norm)
        opt.step()
        return loss

    return step, x.shape[0]


def phases(L: Any, name: str, state: dict[str, np.ndarray], steps: int) -> dict[str, float]:
    """CPU µs of each phase of one step (best of 7 × ``steps``), for profiles at 1 thread."""
    model, x, y, max_norm = _net(L, name)
    model.load_state_dict({k: L.tensor(v) for k, v in state.items()})
    xt = L.tensor(x) if x.dtype != np.int64 else L.tensor(x, dtype=L.long)
    yt = L.tensor(y, dtype=L.long)
    params = list(model.parameters())
    sgd = name in ("tiny", "mlp")
    opt = L.optim.SGD(params, lr=0.01, momentum=0.9) if sgd else L.optim.Adam(params, lr=1e-3)
    ce = L.nn.functional.cross_entropy
    box: dict[str, Any] = {}

    def forward() -> None:
        box["loss"] = ce(model(xt), yt)

    def clip() -> None:
        if max_norm:
            L.nn.utils.clip_grad_norm_(params, max_norm)

    parts = {
        "zero_grad": opt.zero_grad,
        "forward": forward,
        "backward": lambda: box["loss"].backward(),
        "clip": clip,
        "step": opt.step,
    }
    best = dict.fromkeys(parts, float("inf"))
    for rep in range(8):  # the first repetition warms up
        acc = dict.fromkeys(parts, 0.0)
        for _ in range(steps):
            for key, fn in parts.items():
                t = time.thread_time()
                fn()
                acc[key] += time.thread_time() - t
        if rep:
            best = {k: min(best[k], acc[k] / steps * 1e6) for k in parts}
    return best


def _rate(step: Callable, samples: int, seconds: float) -> tuple[float, float]:
    """Samples per wall second and per CPU second of this thread, over whole steps lasting at
    least ``seconds`` (at least 2 steps).

    The CPU figure counts only the calling thread, so it is complete only at 1 thread (torch
    and BLAS then compute in the caller); it is immune to the scheduler preempting us.
    """
    n, t0, c0 = 0, time.perf_counter(), time.thread_time()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 2:
            return n * samples / dt, n * samples / max(time.thread_time() - c0, 1e-9)


def bench_model(name: str, rounds: int, seconds: float, threads: list[int]) -> dict[str, Any]:
    """Alternating rounds of torch (at each thread count) and chainrule on ``name``.

    Returns medians of samples/s and the median of the per-round ratios chainrule/torch, the
    first thread count being the headline one.
    """
    import torch

    import chainrule as cr

    torch.manual_seed(0)
    t_model = _net(torch, name)[0]
    state = {k: v.detach().numpy().copy() for k, v in t_model.state_dict().items()}
    t_step, samples = make_step(torch, name, state)
    c_step, _ = make_step(cr, name, state)
    # equal starting loss = same weights, same batch, same loss
    l_t, l_c = float(t_step().detach()), float(c_step().detach())
    for th in threads:  # warm-up (allocator, caches, lazily created optimizer state)
        torch.set_num_threads(th)
        t_step(), t_step()
    c_step(), c_step()
    runners = [(f"{lib}{th}", th, fn) for th in threads for lib, fn in (("torch", t_step),
               ("chainrule", c_step))]  # fmt: skip
    rates: dict[str, list[float]] = {key: [] for key, _, _ in runners}
    cpu: dict[str, list[float]] = {key: [] for key, _, _ in runners}
    for r in range(rounds):
        for key, th, fn in runners if r % 2 == 0 else runners[::-1]:
            torch.set_num_threads(th)
            with _blas_threads(th):
                wall, per_cpu = _rate(fn, samples, seconds)
            rates[key].append(wall)
            cpu[key].append(per_cpu)
    torch.set_num_threads(threads[0])
    res: dict[str, Any] = {
        "model": name,
        "samples_per_step": samples,
        "goal": GOALS[name],
        "first_loss_torch": l_t,
        "first_loss_chainrule": l_c,
    }
    for th in threads:
        ratios = [c / t for c, t in zip(rates[f"chainrule{th}"], rates[f"torch{th}"])]
        res[f"torch_{th}thr_samples_per_s"] = statistics.median(rates[f"torch{th}"])
        res[f"chainrule_{th}thr_samples_per_s"] = statistics.median(rates[f"chainrule{th}"])
        res[f"ratio_median_vs_{th}thr"] = statistics.median(ratios)
        res[f"ratios_vs_{th}thr"] = ratios
        if th == 1:  # all work is on the calling thread: CPU-time throughput is complete
            cpu_ratios = [c / t for c, t in zip(cpu["chainrule1"], cpu["torch1"])]
            res["torch_1thr_samples_per_cpu_s"] = statistics.median(cpu["torch1"])
            res["chainrule_1thr_samples_per_cpu_s"] = statistics.median(cpu["chainrule1"])
            res["ratio_median_cpu_1thr"] = statistics.median(cpu_ratios)
    res["ratio_median"] = res[f"ratio_median_vs_{threads[0]}thr"]
    res["torch_samples_per_s"] = res[f"torch_{threads[0]}thr_samples_per_s"]
    res["chainrule_samples_per_s"] = res[f"chainrule_{threads[0]}thr_samples_per_s"]
    return res


def _blas_info() -> str:
    """NumPy's BLAS library, version and the CPU kernel it selected, via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return (
                f"{info.get('internal_api')} {info.get('version')}, kernel "
                f"{info.get('architecture')}, {info.get('num_threads')} threads"
            )
    return "unknown"


def _blas_threads(n: int) -> Any:
    """Context limiting NumPy's BLAS pool to ``n`` threads (threadpoolctl, the ``repro`` extra
    that ``make test`` installs); without it a 1-thread column would silently compare torch at
    1 thread with NumPy at all cores, so the run stops instead."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if n >= (os.cpu_count() or 1):  # NumPy's default already uses every core
            import contextlib

            return contextlib.nullcontext()
        raise SystemExit(
            "bench_train: limiting NumPy's BLAS threads needs threadpoolctl "
            "(pip install 'chainrule[repro]'); or measure only the default with --torch-threads 2"
        ) from None
    return threadpool_limits(limits=n, user_api="blas")


def installed_size() -> dict[str, Any]:
    """``du`` of a fresh venv's site-packages holding chainrule's core dependencies.

    Installs numpy, safetensors and tqdm (the versions in this venv, from the pip cache or the
    index) plus chainrule itself without dependencies. Returns MB figures or an error string.
    """
    import importlib.metadata as md

    pins = []
    for dist in ("numpy", "safetensors", "tqdm"):
        try:
            pins.append(f"{dist}=={md.version(dist)}")
        except md.PackageNotFoundError:
            pins.append(dist)
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        try:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            py = venv / "bin" / "python"
            pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q"]
            subprocess.run([*pip, *pins], check=True, capture_output=True)
            before = _site_mb(venv)
            subprocess.run([*pip, "--no-deps", str(ROOT)], check=True, capture_output=True)
            total = _site_mb(venv)
        except (subprocess.CalledProcessError, OSError) as e:
            return {"error": f"{type(e).__name__}: {e}"}
    return {"deps": pins, "site_packages_mb_deps_only": before, "site_packages_mb": total}


def _site_mb(venv: Path) -> float:
    site = next(venv.glob("lib/python*/site-packages"))
    out = subprocess.run(["du", "-sk", str(site)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def _print_phases(models: list[str]) -> None:
    import torch

    import chainrule as cr

    torch.set_num_threads(1)
    load = os.getloadavg()
    print(f"CPU µs per phase, 1 thread, best of 7; load average {load[0]:.2f}; {_blas_info()}")
    print(f"{'model':<6}{'lib':<10}" + "".join(f"{k:>12}" for k in PHASES) + f"{'total':>12}")
    for name in models:
        name = name.strip()
        torch.manual_seed(0)
        state = {k: v.detach().numpy().copy() for k, v in _net(torch, name)[0].state_dict().items()}
        steps = {"tiny": 300, "mlp": 20}.get(name, 3)
        with _blas_threads(1):
            for lib in (torch, cr):
                ph = phases(lib, name, state, steps)
                cols = "".join(f"{ph[k]:>12.1f}" for k in PHASES)
                print(f"{name:<6}{lib.__name__:<10}{cols}{sum(ph.values()):>12.1f}", flush=True)


PHASES = ("zero_grad", "forward", "backward", "clip", "step")


def main() -> None:
    """Run the chosen models, print the table, optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma list of " + ",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds (median; >= 5)")
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum seconds per round")
    ap.add_argument(
        "--torch-threads",
        default="2,1",
        help="comma list of thread counts, each measured in the same alternating rounds: "
        "torch.set_num_threads(T) and NumPy's BLAS pool limited to T (threadpoolctl). The first "
        "is the headline ratio. Default 2,1: 2 is the issue's setting (and OpenBLAS's default "
        "here); 1 shows like-for-like figures when a loaded machine starves thread pools",
    )
    ap.add_argument("--size", action="store_true", help="also measure the installed size")
    ap.add_argument("--import", dest="imp", action="store_true", help="also run bench_import")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    ap.add_argument(
        "--phases",
        action="store_true",
        help="instead: CPU µs per phase of a step (zero_grad, forward, backward, clip, step), "
        "both libraries at 1 thread",
    )
    args = ap.parse_args()
    import torch

    if args.phases:
        _print_phases(args.models.split(","))
        return
    threads = [int(t) for t in args.torch_threads.split(",")]
    torch.set_num_threads(threads[0])
    load0 = os.getloadavg()
    print(
        f"chainrule vs torch {torch.__version__}: torch.set_num_threads({threads}), "
        f"{os.cpu_count()} CPUs, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}"
    )
    print(f"NumPy BLAS: {_blas_info()}")
    print(f"median of {args.rounds} alternating rounds, >= {args.seconds:g} s each\n")
    head = "".join(f"{f'torch {t}thr/s':>14}{f'chainrule {t}thr/s':>18}" for t in threads)
    ratio_head = "".join(f"{f'ratio({t}thr)':>12}" for t in threads)
    if 1 in threads:
        ratio_head += f"{'ratio(1thr cpu)':>16}"
    print(f"{'model':<6}{head}{ratio_head}{'goal':>7}")
    results = []
    for name in args.models.split(","):
        r = bench_model(name.strip(), args.rounds, args.seconds, threads)
        results.append(r)
        ok = "ok" if r["ratio_median"] >= r["goal"] else "below"
        cols = "".join(
            f"{r[f'torch_{t}thr_samples_per_s']:>14.0f}{r[f'chainrule_{t}thr_samples_per_s']:>18.0f}"
            for t in threads
        )
        rcols = "".join(f"{r[f'ratio_median_vs_{t}thr']:>12.2f}" for t in threads)
        if 1 in threads:
            rcols += f"{r['ratio_median_cpu_1thr']:>16.2f}"
        print(
            f"{name:<6}{cols}{rcols}{r['goal']:>6.1f}x {ok}",
            flush=True,
        )
    load1 = os.getloadavg()
    print(f"\nload average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    out: dict[str, Any] = {
        "torch_version": torch.__version__,
        "torch_threads": threads,
        "cpus": os.cpu_count(),
        "load_before": load0,
        "load_after": load1,
        "rounds": args.rounds,
        "blas": _blas_info(),
        "results": results,
    }
    if args.imp:
        from bench_import import cold_import  # benchmarks/ is on sys.path when run as a script

        imp = {m: cold_import(m) for m in ("numpy", "chainrule", "torch")}
        out["cold_import_s"] = imp
        print(
            f"cold import (best of 5 fresh processes, bytecode cached): numpy "
            f"{imp['numpy']:.3f} s, chainrule {imp['chainrule']:.3f} s, torch "
            f"{imp['torch']:.3f} s (goal chainrule <= 0.150 s)"
        )
    if args.size:
        size = installed_size()
        out["installed_size"] = size
        if "error" in size:
            print(f"installed size: {size['error']}")
        else:
            print(
                f"installed size (fresh venv site-packages, {' '.join(size['deps'])} + "
                f"chainrule): {size['site_packages_mb']:.1f} MB (deps alone "
                f"{size['site_packages_mb_deps_only']:.1f} MB; goal <= 80 MB)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
