"""``chainrule.utils.data``: the same objects as ``chainrule.data`` (``torch.utils.data``)."""

from __future__ import annotations

from typing import Any

from chainrule import data as _data
from chainrule.data import *  # noqa: F403
from chainrule.data import __all__ as __all__


def __getattr__(name: str) -> Any:
    # datasets / audio / transforms load lazily in chainrule.data.
    return getattr(_data, name)
