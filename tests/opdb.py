"""The op test registry: one ``OpSpec`` per op, collected from every ``tests/specs/*.py``.

Each area keeps its specs in its own file (``tests/specs/core.py`` for the primitives,
``tests/specs/nn.py`` for fused layer ops …) as a module-level ``SPECS`` list; ``all_specs()``
gathers them all. The generic tests (gradcheck, torch parity, dtypes, properties) run every spec,
and ``test_registry_coverage.py`` fails when a registered op has none (PyTorch's OpInfo idea).

A spec says how to call the op through the public API (``fn``), how to call the same thing in
torch (``ref``), which inputs to try (``samples``: shapes incl. broadcasting pairs and Python
scalars), where inputs may live (``domain``), which points to stay away from (``kinks``) and how
close float32 must be to torch (``kind``).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OpSpec", "Sample", "all_specs", "make_inputs", "BCAST", "TOL32", "TOL64"]

# The broadcasting pairs every binary op is tried on (DESIGN §3).
BCAST: list[tuple] = [((2, 3), (3,)), ((4, 1, 3), (2, 3)), ((), (2, 3)), ((1,), (5,))]

# float32 vs torch: (rtol, atol) per kind; float64 is tight everywhere.
TOL32 = {"elementwise": (1e-5, 1e-6), "reduction": (1e-4, 1e-5)}
TOL64 = (1e-10, 1e-12)


@dataclass
class Sample:
    """One way to call an op.

    ``shapes``: one entry per positional input: a shape tuple (a random tensor) or a Python
    number (passed as a weak scalar, never differentiated). ``kwargs`` go to ``fn`` and ``ref``
    unchanged (ndarrays for index arguments are converted by the callables). ``make``, when
    given, builds the inputs itself from a NumPy Generator (for ops whose valid inputs are not a
    box, such as ``remainder`` away from its jumps or ``prod`` with zeros).
    """

    shapes: tuple = ()
    kwargs: dict = field(default_factory=dict)
    make: Callable[[np.random.Generator], list] | None = None
    name: str = ""


@dataclass
class OpSpec:
    """How to test one registered op (``op`` is its name in ``chainrule.ops.REGISTRY``)."""

    op: str
    fn: Callable[..., Any]
    ref: Callable[..., Any] | None
    samples: Sequence[Sample]
    domain: tuple[float, float] | Sequence[tuple[float, float]] = (-2.0, 2.0)
    kinks: tuple[float, ...] = ()
    kind: str = "elementwise"
    preserves_dtype: bool = True  # float32 in → float32 out (False for casts)
    check_fn: Callable[..., Any] | None = None  # what gradcheck differentiates, if not fn
    float16: bool = True  # also accepts float16 (storage type) inputs
    name: str = ""  # test id; defaults to op

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.op

    def tol32(self) -> tuple[float, float]:
        return TOL32[self.kind]

    def domain_of(self, i: int) -> tuple[float, float]:
        d = self.domain
        return d if isinstance(d[0], int | float) else d[i]  # type: ignore[return-value]


def _dodge(x: np.ndarray, kinks: tuple[float, ...], gap: float = 0.05) -> np.ndarray:
    """Move values that sit within ``gap`` of a kink to ``gap`` beyond it (Chainer's dodge)."""
    for k in kinks:
        near = np.abs(x - k) < gap
        x = np.where(near, k + np.where(x >= k, gap, -gap) * 2, x)
    return x


def make_inputs(spec: OpSpec, sample: Sample, seed: int = 0) -> list:
    """float64 ndarrays (or Python scalars) for ``sample``, inside the domain, off the kinks."""
    rng = np.random.default_rng(seed)
    if sample.make is not None:
        return list(sample.make(rng))
    out: list = []
    for i, s in enumerate(sample.shapes):
        if isinstance(s, int | float) and not isinstance(s, bool):
            out.append(s)
            continue
        lo, hi = spec.domain_of(i)
        out.append(_dodge(rng.uniform(lo, hi, s), spec.kinks))
    return out


@functools.cache
def all_specs() -> list[OpSpec]:
    """Every ``SPECS`` entry from every module in ``tests/specs/`` (sorted by file name)."""
    specs: list[OpSpec] = []
    for path in sorted((Path(__file__).parent / "specs").glob("*.py")):
        if path.name.startswith("_"):
            continue
        mod_name = f"_opdb_specs_{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        specs.extend(getattr(module, "SPECS", []))
    return specs


def cases(specs: Sequence[OpSpec]) -> list:
    """(spec, sample) pairs with readable pytest ids."""
    import pytest

    out = []
    for spec in specs:
        for k, sample in enumerate(spec.samples):
            out.append(pytest.param(spec, sample, id=f"{spec.name}-{sample.name or k}"))
    return out
