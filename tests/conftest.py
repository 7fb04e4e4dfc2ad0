"""Shared test set-up: fixed seeds, the Hypothesis "ci" profile, and a torch fixture."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

# tests/opdb.py and tests/helpers.py are imported as plain modules by the test files; the repo
# root makes a source checkout importable before `pip install -e .`.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))

try:
    from hypothesis import HealthCheck, settings

    # why: derandomized so CI runs are reproducible; small example counts keep the suite fast.
    settings.register_profile(
        "ci",
        derandomize=True,
        deadline=None,
        max_examples=15,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is a test extra; property tests importorskip it
    pass


@pytest.fixture(autouse=True)
def _seeds() -> None:
    """Every test starts from the same random state (chainrule, NumPy and Python)."""
    random.seed(0)
    np.random.seed(0)
    import chainrule as cr

    cr.manual_seed(0)


@pytest.fixture
def torch():
    """The torch module, or a clean skip when it is not installed."""
    return pytest.importorskip("torch")
