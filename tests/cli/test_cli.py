"""The command line end to end, in subprocesses, on small budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    result = run("train", "--task", "digits", "--model", "mlp", "--epochs", "2", "--limit",
                 "400", "--lr", "0.005", "--seed", "1", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_train_writes_checkpoint_history_and_curves(trained):
    result_json = json.loads((trained / "run.json").read_text())
    assert result_json["task"] == "digits" and result_json["model_name"] == "mlp"
    assert result_json["test"]["accuracy"] > 0.5
    assert (trained / "checkpoint.safetensors").exists()
    lines = (trained / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,accuracy,val_loss,val_accuracy") and len(lines) == 3
    pytest.importorskip("matplotlib")
    assert (trained / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_train_prints_final_metrics_and_paths(tmp_path):
    result = run("train", "--task", "digits", "--model", "cnn", "--epochs", "1", "--limit",
                 "200", "--out", str(tmp_path), "--no-plot")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert f"checkpoint: {tmp_path / 'checkpoint.safetensors'}" in result.stdout
    # stderr is not a terminal here: one plain line per epoch, no carriage returns
    assert "epoch 1/1: loss" in result.stderr and "\r" not in result.stderr


def test_evaluate_checkpoint(trained):
    result = run("evaluate", str(trained / "checkpoint.safetensors"), "--json", "--limit", "400")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    saved = json.loads((trained / "run.json").read_text())["test"]
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"])
    assert metrics["loss"] == pytest.approx(saved["loss"], rel=1e-5)


def test_evaluate_for_another_task_names_the_task(trained):
    result = run("evaluate", str(trained / "checkpoint.safetensors"), "--task", "mnist")
    assert result.returncode != 0
    assert "checkpoint for task 'digits', not 'mnist'" in result.stderr


def test_predict_shows_predictions(trained):
    result = run("predict", str(trained / "checkpoint.safetensors"), "--count", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("predicted") == 3 and "(true " in result.stdout


def test_resume_continues_the_run(tmp_path):
    base = ["train", "--task", "digits", "--model", "mlp", "--limit", "200", "--out",
            str(tmp_path), "--no-plot", "--no-progress"]  # fmt: skip
    assert run(*base, "--epochs", "1").returncode == 0
    result = run(*base, "--epochs", "2", "--resume")
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 3  # epochs 1 and 2


def test_version_and_help():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("chainrule ")
    result = run("train", "--help")
    assert result.returncode == 0
    for option in ("--task", "--model", "--epochs", "--lr", "--optimizer", "--batch-size",
                   "--seed", "--out"):  # fmt: skip
        assert option in result.stdout


def test_bad_arguments_are_argparse_errors():
    result = run("train", "--task", "cifar")
    assert result.returncode == 2 and "invalid choice: 'cifar'" in result.stderr
    result = run("train", "--task", "digits", "--epochs", "-3")
    assert result.returncode == 2 and "--epochs" in result.stderr
    result = run("train", "--task", "digits", "--model", "resnet")
    assert result.returncode != 0 and "unknown model 'resnet'" in result.stderr


def test_missing_data_directory_names_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    result = run("train", "--task", "mnist", "--data-dir", str(missing), "--out",
                 str(tmp_path / "out"))  # fmt: skip
    assert result.returncode != 0
    assert str(missing) in result.stderr and "Traceback" not in result.stderr


def test_report_on_a_directory_without_a_run(tmp_path):
    result = run("report", str(tmp_path / "absent"))
    assert result.returncode != 0 and "absent" in result.stderr


def test_explain_prints_one_step_as_the_chain_rule():
    result = run("explain", "--task", "digits", "--model", "mlp", "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    assert "chain rule" in result.stdout and "Backward" in result.stdout


def test_report_writes_html_for_a_run(trained):
    result = run("report", str(trained), "--output", str(trained / "r.html"))
    assert result.returncode == 0, result.stderr
    text = (trained / "r.html").read_text()
    assert text.lstrip().lower().startswith("<!doctype html") and "history" in text.lower()


def test_shakespeare_train_and_generate(tmp_path):
    result = run("train", "--task", "shakespeare", "--epochs", "1", "--limit", "32",
                 "--seq-len", "16", "--out", str(tmp_path), "--no-plot")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "perplexity" in result.stdout
    result = run("predict", str(tmp_path / "checkpoint.safetensors"), "--task", "shakespeare",
                 "--prompt", "To be", "--length", "12")  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout[:-1]  # print adds one newline; generated text may hold more
    assert text.startswith("To be") and len(text) == len("To be") + 12


@pytest.mark.parametrize(
    "name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam"]
)
def test_every_optimizer_choice_builds_that_optimizer(name):
    import argparse

    from chainrule import cli, nn, optim

    args = argparse.Namespace(weight_decay=0.0, momentum=0.9)
    opt = cli._make_optimizer(name, nn.Linear(2, 2), 0.01, args)
    assert isinstance(opt, optim.Optimizer)
    expected = {"sgd": "SGD", "adamw": "AdamW", "rmsprop": "RMSprop", "nadam": "NAdam",
                "radam": "RAdam"}.get(name, name.capitalize())  # fmt: skip
    assert type(opt).__name__ == expected and opt.param_groups[0]["lr"] == 0.01
