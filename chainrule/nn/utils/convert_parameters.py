"""``parameters_to_vector`` / ``vector_to_parameters`` (PyTorch semantics)."""

from __future__ import annotations

from collections.abc import Iterable

from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    import chainrule

    return chainrule.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Point each parameter's ``.data`` at its slice of ``vec`` (the inverse of the above)."""
    if not isinstance(vec, Tensor):
        raise TypeError(
            f"expected torch.Tensor, but got: {type(vec).__module__}.{type(vec).__name__}"
        )
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec._data[pointer : pointer + n].reshape(param.shape)
        pointer += n
