"""``chainrule.nn``: layers, losses and ``Module``, under PyTorch's names.

Layer classes and the ``functional`` / ``init`` / ``utils`` submodules load on first use (PEP 562),
so ``import chainrule.nn`` costs little more than ``Module`` itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import modules as modules
from .modules import _LAZY as _LAZY_LAYERS
from .modules import Module as Module
from .modules import ModuleDict as ModuleDict
from .modules import ModuleList as ModuleList
from .modules import ParameterDict as ParameterDict
from .modules import ParameterList as ParameterList
from .modules import Sequential as Sequential
from .parameter import Buffer as Buffer
from .parameter import Parameter as Parameter

_SUBMODULES = {"functional", "init", "utils", "parameter", "modules", "parallel"}

__all__ = [
    "Module",
    "Parameter",
    "Buffer",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    *_LAZY_LAYERS,
]


def __getattr__(name: str) -> Any:
    if name == "fusion":  # chainrule's switch for fused Linear/ReLU stacks (not in torch)
        from .modules._fusion import fusion

        return fusion
    if name == "SyncBatchNorm":  # lives with the process group it talks over
        from ..distributed.sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_LAYERS:
        value = getattr(modules, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chainrule.nn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_LAYERS) | _SUBMODULES)
