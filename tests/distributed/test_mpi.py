"""Two real processes under ``mpirun -n 2`` (loopback only, each run bounded by a timeout)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from mpi_launch import ROOT, SCRIPTS


def test_two_ranks_equal_one_process_on_the_concatenated_batch(mpi):
    # SGD+momentum and Adam, float32 and float64, 10 steps; plus collectives, no_sync,
    # unused parameters and the sampler partition under a real process group.
    res = mpi([str(SCRIPTS / "equivalence.py")])
    assert res.returncode == 0, res.output
    assert "rank 0 OK" in res.stdout and "rank 1 OK" in res.stdout, res.output


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("raise", r"rank 1 of 2 failed with ValueError: boom on purpose"),
        ("exit", r"rank 1 exited while rank 0 was waiting"),
        ("kill", r"process rank 1 .*(signal|Killed)"),
        ("mismatch", r"parameter '0\.weight' has shape \[8, 5\] .* on rank 0 but shape \[9, 5\]"),
        ("hang", r"on rank 0 did not complete within 3 s"),
    ],
)
def test_a_failing_rank_ends_the_job_naming_it(mpi, mode, message):
    env = {"CHAINRULE_DIST_TIMEOUT": "3"} if mode == "hang" else None
    res = mpi([str(SCRIPTS / "failure.py"), mode], timeout=60, env=env)
    assert res.returncode != 0, res.output
    assert re.search(message, res.output, re.S), res.output
    assert "went unnoticed" not in res.output
    assert res.seconds < 40, f"took {res.seconds:.1f} s"


def _test_accuracy(output: str) -> float:
    match = re.search(r"test accuracy ([\d.]+)%", output)
    assert match, output
    return float(match.group(1)) / 100


def test_chainrule_train_under_mpirun_matches_one_process(mpi, tmp_path):
    args = ["-m", "chainrule", "train", "--task", "digits", "--model", "mlp", "--epochs", "4",
            "--seed", "0", "--no-plot"]  # fmt: skip
    two = mpi([*args, "--out", str(tmp_path / "two")], timeout=120)
    assert two.returncode == 0, two.output
    assert two.stdout.count("test accuracy") == 1  # only rank 0 reports
    assert (tmp_path / "two" / "checkpoint.safetensors").exists()
    one = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert one.returncode == 0, one.stderr
    acc1, acc2 = _test_accuracy(one.stdout), _test_accuracy(two.stdout)
    assert acc1 > 0.9 and acc2 > 0.9
    assert abs(acc1 - acc2) < 0.03, (acc1, acc2)
