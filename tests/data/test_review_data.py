"""Regression tests from the external review of chainrule.data."""

from __future__ import annotations

import pytest

from chainrule.data.datasets import read_idx


def test_read_idx_missing_file_is_filenotfounderror(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path)  # a directory is no IDX file either


def test_read_idx_truncated_file_is_valueerror(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x1c\x00\x00\x00\x1c" + bytes(9))
    with pytest.raises(ValueError, match="bad.idx"):
        read_idx(path)
