"""``chainrule.utils``: home of the ``chainrule.utils.data`` alias (``torch.utils.data``)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["data"]


def __getattr__(name: str) -> Any:
    if name == "data":
        return importlib.import_module("chainrule.utils.data")
    raise AttributeError(f"module 'chainrule.utils' has no attribute {name!r}")
