"""L1 and L2 penalties added to the training loss (``fit(..., regularizer=L2(1e-4))``).

By default the penalty covers the *weights* only: parameters whose name contains ``weight``,
outside normalisation layers. Biases and BatchNorm/LayerNorm/GroupNorm scales are left alone,
because shrinking them towards zero does not reduce the model's capacity, it only shifts or
rescales activations (the usual practice, e.g. Keras' kernel_regularizer and most papers).

Weight decay in the optimizer (``SGD(weight_decay=…)``, ``AdamW``) is the other way to
regularise; for SGD, ``L2(alpha)`` equals ``weight_decay=2·alpha`` on the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Regularizer", "L1", "L2", "L1L2", "default_parameter_filter"]


def default_parameter_filter(module_name: str, module: Any, param_name: str) -> bool:
    """True for weights (``weight``, ``weight_ih_l0``, ``in_proj_weight`` …) outside norm layers."""
    if "Norm" in type(module).__name__:
        return False
    return "weight" in param_name


class Regularizer:
    """A penalty on a chosen set of parameters; ``reg(model)`` returns a scalar Tensor.

    Args:
        l1: coefficient of Σ|w|.
        l2: coefficient of Σw² (not ½Σw²).
        params: which parameters: ``None`` (weights, see :func:`default_parameter_filter`),
            an iterable of parameters, or a predicate ``f(module_name, module, param_name)``.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, params: Any = None) -> None:
        if l1 < 0 or l2 < 0:
            raise ValueError(f"regularization coefficients must be >= 0, got l1={l1}, l2={l2}")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.params = params
        self._cache: tuple[int, list[Any]] | None = None

    def parameters(self, model: Any) -> list[Any]:
        """The parameters of ``model`` this penalty applies to."""
        if self.params is not None and not callable(self.params):
            return list(self.params)
        if self._cache is not None and self._cache[0] == id(model):
            return self._cache[1]
        keep: Callable[..., bool] = self.params or default_parameter_filter
        chosen, seen = [], set()
        for module_name, module in model.named_modules():
            for param_name, p in module.named_parameters(recurse=False):
                if id(p) not in seen and p.requires_grad and keep(module_name, module, param_name):
                    seen.add(id(p))
                    chosen.append(p)
        self._cache = (id(model), chosen)
        return chosen

    def named_parameters(self, model: Any) -> Iterable[tuple[str, Any]]:
        """``(name, parameter)`` pairs of the penalised parameters (for inspection)."""
        ids = {id(p) for p in self.parameters(model)}
        return [(n, p) for n, p in model.named_parameters() if id(p) in ids]

    def __call__(self, model: Any) -> Any:
        """The penalty l1·Σ|w| + l2·Σw² as a differentiable scalar."""
        total = None
        for p in self.parameters(model):
            term = None
            if self.l1:
                term = p.abs().sum() * self.l1
            if self.l2:
                sq = (p * p).sum() * self.l2
                term = sq if term is None else term + sq
            if term is not None:
                total = term if total is None else total + term
        if total is None:
            import chainrule as cr

            return cr.tensor(0.0)
        return total

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(Regularizer):
    """L1 penalty ``alpha · Σ|w|`` (drives weights to exactly zero: sparse models)."""

    def __init__(self, alpha: float = 0.01, params: Any = None) -> None:
        super().__init__(l1=alpha, params=params)


class L2(Regularizer):
    """L2 penalty ``alpha · Σw²`` (shrinks weights smoothly; "ridge")."""

    def __init__(self, alpha: float = 0.01, params: Any = None) -> None:
        super().__init__(l2=alpha, params=params)


class L1L2(Regularizer):
    """Both penalties: ``l1 · Σ|w| + l2 · Σw²`` (elastic net)."""
