"""Freed memory is kept for the next training step (glibc), and the switch validates input."""

from __future__ import annotations

import platform
import resource

import numpy as np
import pytest

import chainrule as cr
from chainrule import _memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def _step(model: cr.nn.Module, x: cr.Tensor) -> None:
    model.zero_grad()
    model(x).square().mean().backward()


def test_first_backward_applies_the_policy() -> None:
    w = cr.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    assert _memory.applied


@glibc
def test_repeated_steps_do_not_fault_fresh_pages() -> None:
    # a conv whose im2col columns and activations are several MB: without reuse every step
    # faults thousands of fresh pages (one per 4 KiB)
    cr.manual_seed(0)
    model = cr.nn.Conv2d(16, 32, 3, padding=1)
    x = cr.tensor(np.random.default_rng(0).standard_normal((32, 16, 32, 32)).astype(np.float32))
    for _ in range(3):
        _step(model, x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        _step(model, x)
    per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
    assert per_step < 200, f"{per_step:.0f} page faults per step: freed memory is not reused"


@glibc
def test_switch_off_and_on() -> None:
    try:
        assert cr.set_memory_reuse(False) is True
        assert not cr.memory_reuse_enabled()
    finally:
        assert cr.set_memory_reuse(True) is True
    assert cr.memory_reuse_enabled()


def test_switch_rejects_non_bool() -> None:
    with pytest.raises(TypeError, match="expects a bool, got int"):
        cr.set_memory_reuse(1)  # type: ignore[arg-type]
