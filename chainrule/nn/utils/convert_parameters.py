"""``parameters_to_vector`` / ``vector_to_parameters``: a model's parameters as one flat vector."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ... import _api
from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the flattened parameters into one 1-D tensor (differentiable)."""
    flat = [p.reshape(-1) for p in parameters]
    if not flat:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of parameters")
    return _api.cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place.

    The values are copied into each parameter's existing array, so optimizer state and views
    stay attached to it.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise RuntimeError(
            f"vector_to_parameters: vec has shape {list(vec.shape)} but the parameters hold "
            f"{total} elements"
        )
    src = vec._data
    pointer = 0
    for p in params:
        n = p.numel()
        np.copyto(p._data, src[pointer : pointer + n].reshape(p.shape), casting="unsafe")
        p._vc[0] += 1
        pointer += n
