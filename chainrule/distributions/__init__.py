"""``chainrule.distributions``: the probability distributions scripts use most, as torch's.

``Categorical`` (policy gradients, sampling), ``Bernoulli``, ``Normal`` (reparameterised
``rsample`` for VAEs and Gaussian policies), ``Uniform``, ``Independent`` and ``kl_divergence``.
``log_prob``/``entropy``/``rsample`` are compositions of tensor ops, so they are differentiable.
"""

from __future__ import annotations

from .distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Independent,
    Normal,
    OneHotCategorical,
    Uniform,
    kl_divergence,
    register_kl,
)

__all__ = [
    "Distribution",
    "Categorical",
    "OneHotCategorical",
    "Bernoulli",
    "Normal",
    "Uniform",
    "Independent",
    "kl_divergence",
    "register_kl",
]
