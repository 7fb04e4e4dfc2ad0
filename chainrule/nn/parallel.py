"""``chainrule.nn.parallel``: ``DistributedDataParallel`` under torch.nn.parallel's name.

The implementation lives in :mod:`chainrule.distributed.parallel` (loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..distributed.parallel import DistributedDataParallel

__all__ = ["DistributedDataParallel"]


def __getattr__(name: str) -> Any:
    if name == "DistributedDataParallel":
        from ..distributed.parallel import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'chainrule.nn.parallel' has no attribute {name!r}")
