"""Every registered op has an OpSpec in tests/specs/ (PyTorch's OpInfo coverage rule)."""

from __future__ import annotations

import importlib

from opdb import all_specs

from chainrule.ops import REGISTRY

# The core's own op modules; other areas' ops are covered by test_every_op_has_a_spec.
_CORE_MODULES = {
    "chainrule.ops.elementwise",
    "chainrule.ops.reduction",
    "chainrule.ops.shape",
    "chainrule.ops.indexing",
    "chainrule.ops.linalg",
}
_CORE_EXTRA = {"softmax", "log_softmax"}


def _load_everything() -> None:
    """Import the packages that register more ops, when they exist."""
    for name in ("chainrule.nn", "chainrule.nn.functional"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is None or not name.startswith(e.name):
                raise


def _specced() -> set[str]:
    return {s.op for s in all_specs()}


def test_core_ops_have_specs():
    core = {
        name
        for name, opdef in REGISTRY.items()
        if opdef.fn.__module__ in _CORE_MODULES or name in _CORE_EXTRA
    }
    missing = sorted(core - _specced())
    assert not missing, f"core ops without an OpSpec in tests/specs/core.py: {missing}"


def test_every_op_has_a_spec():
    _load_everything()
    missing = sorted(set(REGISTRY) - _specced())
    assert not missing, f"ops without an OpSpec in tests/specs/*.py: {missing}"


def test_specs_name_registered_ops():
    _load_everything()
    unknown = sorted(_specced() - set(REGISTRY))
    assert not unknown, f"OpSpecs for ops that are not in chainrule.ops.REGISTRY: {unknown}"
