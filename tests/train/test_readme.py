"""Every ```python block of README.md runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_readme_has_the_pytorch_style_and_fit_examples():
    blocks = python_blocks()
    assert any("loss.backward()" in b and "optimizer.step()" in b for b in blocks)
    fit_blocks = [b for b in blocks if "history = fit(" in b]
    assert fit_blocks and len(fit_blocks[0].strip().splitlines()) <= 8


def test_readme_python_blocks_execute(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # anything a block writes lands in a temporary directory
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(python_blocks()):
        try:
            exec(compile(block, f"README.md block {i}", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message names the block
            pytest.fail(f"README.md python block {i} failed: {type(e).__name__}: {e}\n{block}")
    out = capsys.readouterr().out
    assert "tensor([[2., 4.]," in out
    assert "epoch 4: loss" in out
    accuracy = float(re.search(r"validation accuracy ([\d.]+)%", out).group(1))
    assert accuracy >= 90.0
