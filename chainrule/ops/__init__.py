"""The VJP table: every differentiable op's forward and gradient, side by side.

Importing this package registers every op in ``REGISTRY`` (differentiable) or ``NONDIFF``.
"""

from . import elementwise, indexing, linalg, reduction, shape
from ._registry import NONDIFF, REGISTRY, OpDef, op
from .nn import activation

__all__ = [
    "NONDIFF",
    "REGISTRY",
    "OpDef",
    "op",
    "elementwise",
    "indexing",
    "linalg",
    "reduction",
    "shape",
    "activation",
]
