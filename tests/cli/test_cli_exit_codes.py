"""Exit statuses and error output of the command line, in subprocesses: 0 on success, 2 for usage
errors (with the usage line), 1 for run-time failures with one line on stderr naming the problem
and no traceback (unless --debug)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_runtime_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("chainrule "), lines[0]
    assert ": error: " in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    main(["train", "--task", "digits", "--model", "mlp", "--epochs", "1", "--limit", "120",
          "--no-progress", "--no-plot", "--out", str(out)])  # fmt: skip
    return out / "checkpoint.safetensors"


def test_success_is_zero(checkpoint):
    assert run("--version").returncode == 0
    result = run("evaluate", str(checkpoint), "--limit", "50", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args,needle",
    [
        ((), "the following arguments are required: COMMAND"),
        (("train",), "the following arguments are required: --task"),
        (("train", "--task", "cifar"), "invalid choice: 'cifar'"),
        (("train", "--task", "digits", "--epochs", "0"), "--epochs"),
        (
            ("train", "--task", "digits", "--lr", "abc"),
            "--lr: must be a positive number, got 'abc'",
        ),
        (("train", "--task", "digits", "--epochs", "x"), "--epochs: must be a positive integer"),
        (("train", "--task", "digits", "--momentum", "-1"), "--momentum: must be a number >= 0"),
        (("train", "--task", "digits", "--weight-decay", "nan"), "--weight-decay"),
        (("train", "--task", "digits", "--model", "resnet"), "unknown model 'resnet'"),
        (("predict",), "give a CHECKPOINT or --task"),
        (("evaluate",), "the following arguments are required: checkpoint"),
        (("nosuchcommand",), "invalid choice"),
    ],
)
def test_usage_errors_are_two_with_the_usage_line(args, needle):
    result = run(*args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.startswith("usage: chainrule"), result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_missing_checkpoint_file(tmp_path):
    missing = tmp_path / "nope.safetensors"
    assert_runtime_error(run("evaluate", str(missing)), str(missing), "does not exist")
    assert_runtime_error(run("explain", str(missing)), "does not exist")
    assert_runtime_error(run("predict", str(missing)), "does not exist")


def test_missing_run_directory_and_data_directory(tmp_path):
    assert_runtime_error(run("report", str(tmp_path / "absent")), "absent", "does not exist")
    missing = tmp_path / "nodata"
    result = run("train", "--task", "mnist", "--data-dir", str(missing), "--out", str(tmp_path))
    assert_runtime_error(result, str(missing))


def test_checkpoint_of_another_task(checkpoint):
    result = run("evaluate", str(checkpoint), "--task", "mnist")
    assert_runtime_error(result, "checkpoint for task 'digits'", "not 'mnist'")


def test_corrupt_and_foreign_files(checkpoint, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(checkpoint.read_bytes()[:-10])
    assert_runtime_error(run("evaluate", str(truncated)), "truncated.safetensors", "truncated")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 3)
    assert_runtime_error(run("evaluate", str(garbage)), "garbage.safetensors", "too short")
    plain = tmp_path / "weights.safetensors"
    cr.save({"w": cr.ones(2)}, plain)  # a state_dict, not a training checkpoint
    assert_runtime_error(run("evaluate", str(plain)), "not a chainrule checkpoint")
    foreign = tmp_path / "foreign.safetensors"
    cr.save_checkpoint(foreign, model=cr.nn.Linear(2, 2), epoch=1)  # no task recorded
    assert_runtime_error(run("evaluate", str(foreign)), "not written by `chainrule train`")


def test_input_of_the_wrong_shape(checkpoint, tmp_path):
    wrong = tmp_path / "w.npy"
    np.save(wrong, np.zeros((2, 5), np.float32))
    assert_runtime_error(run("predict", str(checkpoint), "--input", str(wrong)), "shape (2, 5)")


def test_debug_shows_the_traceback_before_or_after_the_command(tmp_path):
    missing = str(tmp_path / "nope.safetensors")
    for args in (("--debug", "evaluate", missing), ("evaluate", missing, "--debug")):
        result = run(*args)
        assert result.returncode == 1
        assert "Traceback" in result.stderr and "does not exist" in result.stderr
    # usage errors stay usage errors with --debug
    result = run("--debug", "predict")
    assert result.returncode == 2 and "give a CHECKPOINT or --task" in result.stderr


def test_unexpected_errors_are_one_line_with_their_type(monkeypatch, capsys):
    import chainrule.cli as cli

    def boom(args):
        raise KeyError("model_kwargs")

    monkeypatch.setattr(cli, "cmd_report", boom)
    with pytest.raises(SystemExit) as info:
        cli.main(["report", "somewhere"])
    err = capsys.readouterr().err
    assert info.value.code == 1
    assert err.strip() == (
        "chainrule report: error: KeyError: 'model_kwargs' (run with --debug for the full "
        "traceback)"
    )


def test_training_error_is_one_line_naming_the_saved_weights(tmp_path, monkeypatch, capsys):
    from chainrule import train

    def full_disk(self, state):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train.CSVLogger, "on_epoch_end", full_disk)
    with pytest.raises(SystemExit) as info:
        main(["train", "--task", "digits", "--model", "mlp", "--epochs", "2", "--limit", "60",
              "--no-progress", "--no-plot", "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert info.value.code == 1 and len(err.splitlines()) == 1, err
    saved = tmp_path / "checkpoint.interrupted.safetensors"
    assert err.startswith("chainrule train: error: error at epoch 1, batch ")
    assert "No space left on device" in err and str(saved) in err and "1 epochs completed" in err
    assert cr.load_checkpoint(saved, restore_rng=False)["epoch"] == 1
