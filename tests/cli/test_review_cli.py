"""Regression tests from the external review of the command line (in process: fast)."""

from __future__ import annotations

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
