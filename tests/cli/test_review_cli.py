"""Regression tests from the external review of the command line (in process: fast)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from chainrule.cli import main


def fails(capsys, argv, match, code=1):
    """main(argv) exits with ``code`` and a one-line stderr message matching ``match``."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err

    assert re.search(match, err), err


def test_train_out_is_an_existing_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    argv = ["train", "--task", "digits", "--epochs", "1", "--out", str(target)]
    fails(capsys, argv, "is a file, not a directory")
    assert target.read_text() == "keep me"


def test_missing_data_leaves_no_empty_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    fails(capsys, ["train", "--task", "mnist", "--data-dir", str(tmp_path / "nodata"),
                   "--out", str(out)], "nodata")  # fmt: skip
    assert not out.exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    main(["train", "--task", "digits", "--model", "mlp", "--epochs", "1", "--limit", "200",
          "--no-progress", "--no-plot", "--out", str(out)])  # fmt: skip
    return str(out / "checkpoint.safetensors")


def test_predict_input_that_is_not_a_numeric_npy(tmp_path, checkpoint, capsys):
    strings = tmp_path / "s.npy"
    np.save(strings, np.array(["a", "b"]))
    archive = tmp_path / "a.npz"
    np.savez(archive, x=np.zeros(3))
    for path, match in [(strings, "not numbers"), (archive, "archive"),
                        (tmp_path / "missing.npy", "does not exist")]:  # fmt: skip
        fails(capsys, ["predict", checkpoint, "--input", str(path)], match)


def test_predict_input_of_the_wrong_shape_names_it(tmp_path, checkpoint, capsys):
    wrong = tmp_path / "w.npy"
    np.save(wrong, np.zeros((2, 5), np.float32))
    fails(capsys, ["predict", checkpoint, "--input", str(wrong)], r"shape \(2, 5\)")
