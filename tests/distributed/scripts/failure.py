"""Run under ``mpirun -n 2`` with a mode: rank 1 misbehaves while rank 0 keeps training.

Modes: ``raise`` (an uncaught exception), ``exit`` (``sys.exit(3)``, no exception), ``kill``
(SIGKILL, as if the process died), ``mismatch`` (rank 1 builds a wider first layer), ``hang``
(rank 1 sleeps: rank 0's collective times out after CHAINRULE_DIST_TIMEOUT seconds). The job
must end with a non-zero status and a message naming the rank, quickly.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim


def main(mode: str) -> None:
    dist.init_process_group()
    rank = dist.get_rank()
    hidden = 9 if (mode == "mismatch" and rank == 1) else 8
    model = nn.Sequential(nn.Linear(5, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    ddp = dist.DistributedDataParallel(model)
    opt = optim.SGD(ddp.parameters(), lr=0.1)
    for step in range(1000):
        if rank == 1 and step == 3:
            if mode == "raise":
                raise ValueError("boom on purpose")
            if mode == "exit":
                sys.exit(3)
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(120)  # stuck outside any collective
        opt.zero_grad()
        ddp(cr.randn(4, 5)).sum().backward()
        opt.step()
    print(f"rank {rank} finished 1000 steps: the failure went unnoticed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
