"""tests/compat: PyTorch scripts run with torch and with chainrule swapped in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def torch_1thread():
    """Real torch limited to one thread (the test machine's cores are shared), or a skip."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(n)
