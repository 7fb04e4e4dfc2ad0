"""Regression tests from the external review of chainrule.onnx (errors name the user's path)."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import nn

pytest.importorskip("onnx")


def test_export_to_missing_directory_names_the_path(tmp_path):
    target = tmp_path / "nope" / "m.onnx"
    with pytest.raises(FileNotFoundError, match="nope"):
        cr.onnx.export(nn.Linear(2, 2), cr.randn(1, 2), str(target))


def test_export_onto_a_directory_names_it(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        cr.onnx.export(nn.Linear(2, 2), cr.randn(1, 2), str(tmp_path))
    assert list(tmp_path.iterdir()) == []
