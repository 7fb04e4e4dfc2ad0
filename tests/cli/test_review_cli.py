"""Regression tests from the external review of the command line (in process: fast)."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.cli import main


def test_train_out_is_an_existing_file(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    with pytest.raises(SystemExit, match="is a file, not a directory"):
        main(["train", "--task", "digits", "--epochs", "1", "--out", str(target)])
    assert target.read_text() == "keep me"


def test_missing_data_leaves_no_empty_run_directory(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match="nodata"):
        main(["train", "--task", "mnist", "--data-dir", str(tmp_path / "nodata"),
              "--out", str(out)])  # fmt: skip
    assert not out.exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    main(["train", "--task", "digits", "--model", "mlp", "--epochs", "1", "--limit", "200",
          "--no-progress", "--no-plot", "--out", str(out)])  # fmt: skip
    return str(out / "checkpoint.safetensors")


def test_predict_input_that_is_not_a_numeric_npy(tmp_path, checkpoint):
    strings = tmp_path / "s.npy"
    np.save(strings, np.array(["a", "b"]))
    archive = tmp_path / "a.npz"
    np.savez(archive, x=np.zeros(3))
    for path, match in [(strings, "not numbers"), (archive, "archive"),
                        (tmp_path / "missing.npy", "does not exist")]:  # fmt: skip
        with pytest.raises(SystemExit, match=match):
            main(["predict", checkpoint, "--input", str(path)])


def test_predict_input_of_the_wrong_shape_names_it(tmp_path, checkpoint):
    wrong = tmp_path / "w.npy"
    np.save(wrong, np.zeros((2, 5), np.float32))
    with pytest.raises(SystemExit, match=r"shape \(2, 5\)"):
        main(["predict", checkpoint, "--input", str(wrong)])
