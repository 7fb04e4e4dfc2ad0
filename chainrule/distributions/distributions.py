"""Distribution classes (torch.distributions' API: sample / rsample / log_prob / entropy / mean)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _api, _compat
from .._random import rng
from .._tensor import Tensor, _make, tensor
from ..autograd.grad_mode import no_grad

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


def _t(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like is not None and like.is_floating_point() else None
    return (
        tensor(x, dtype=dtype) if dtype is not None else tensor(float(x) if np.ndim(x) == 0 else x)
    )


def _broadcast_pair(a: Any, b: Any) -> list[Tensor]:
    """Two parameters as tensors of one shape; a plain number takes a tensor one's dtype."""
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    return _compat.broadcast_tensors(_t(a, like), _t(b, like))


def _shape(sample_shape: Any) -> tuple[int, ...]:
    if isinstance(sample_shape, int):
        return (sample_shape,)
    return tuple(int(s) for s in sample_shape)


class Distribution:
    """Base class: ``batch_shape``, ``event_shape``, ``sample``, ``log_prob`` …"""

    has_rsample = False

    def __init__(
        self, batch_shape: tuple = (), event_shape: tuple = (), validate_args: Any = None
    ) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)

    @property
    def batch_shape(self) -> tuple:
        """Shape over independent distributions."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """Shape of one draw."""
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> tuple:
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A draw (no gradient)."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised (differentiable) draw."""
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler")

    def sample_n(self, n: int) -> Tensor:
        """``sample((n,))``."""
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        """Log density / mass at ``value``."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """Entropy of each batch member."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return _api.exp(self.entropy())

    @property
    def stddev(self) -> Tensor:
        """Standard deviation."""
        return _api.sqrt(self.variance)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Categorical(Distribution):
    """Categories 0..K−1 with ``probs`` (normalised for you) or ``logits`` over the last dim."""

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            p = _t(probs)
            if p.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            if validate_args is not False and (
                bool((p < 0).any().item()) or not bool(_api.isfinite(p).all().item())
            ):
                raise ValueError(
                    "Expected parameter probs to be non-negative and finite, got "
                    f"{p.detach().numpy()}"
                )
            self.probs = p / p.sum(-1, keepdim=True)
            self.logits = _api.log(_api.clamp(self.probs, min=np.finfo(p._data.dtype).tiny))
        else:
            lg = _t(logits)
            if lg.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = lg - _api.logsumexp(lg, -1, keepdim=True)
            self.probs = _api.softmax(self.logits, -1)
        self._num_events = self.probs.shape[-1]
        super().__init__(tuple(self.probs.shape[:-1]))

    @property
    def param_shape(self) -> tuple:
        """Shape of probs/logits."""
        return tuple(self.probs.shape)

    @property
    def mean(self) -> Tensor:
        """Undefined for categories: NaN, as torch."""
        return _api.full(self._batch_shape, float("nan"), dtype=self.probs.dtype)

    @property
    def mode(self) -> Tensor:
        """The most likely category."""
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        """NaN, as torch."""
        return self.mean

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """int64 category indices of shape ``sample_shape + batch_shape``."""
        shape = _shape(sample_shape)
        p = self.probs._data.reshape(-1, self._num_events).astype(np.float64)
        n = int(np.prod(shape)) if shape else 1
        cdf = np.cumsum(p, axis=1)
        u = rng(None).random((n, p.shape[0])) * cdf[:, -1]
        idx = np.empty((n, p.shape[0]), dtype=np.int64)
        for j in range(p.shape[0]):
            idx[:, j] = np.searchsorted(cdf[j], u[:, j], side="right")
        idx = np.minimum(idx, self._num_events - 1)
        return _make(idx.reshape(shape + self._batch_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """log probs[value]."""
        v = _t(value).long()
        lg = self.logits
        shape = np.broadcast_shapes(tuple(v.shape), tuple(lg.shape[:-1]))
        v = v.expand(shape) if tuple(v.shape) != shape else v
        lg = lg.expand(*shape, self._num_events)
        return _api.gather(lg, -1, v.unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> Tensor:
        """−Σ p log p."""
        min_real = float(np.finfo(self.logits._data.dtype).min)
        logits = _api.clamp(self.logits, min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """All categories, shaped (K, *batch_shape)."""
        vals = _api.arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape))
        return vals.expand((self._num_events, *self._batch_shape)) if expand else vals

    def __repr__(self) -> str:
        return f"Categorical(probs: {tuple(self.probs.shape)})"


class OneHotCategorical(Categorical):
    """Categorical draws as one-hot vectors."""

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        super().__init__(probs, logits, validate_args)
        self._event_shape = (self._num_events,)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """One-hot float draws."""
        idx = super().sample(sample_shape)
        return _make(np.eye(self._num_events, dtype=self.probs._data.dtype)[idx._data])

    def log_prob(self, value: Tensor) -> Tensor:
        """log probs at the hot index."""
        return (self.logits * _t(value, self.logits)).sum(-1)

    @property
    def mean(self) -> Tensor:
        """The probabilities."""
        return self.probs

    @property
    def variance(self) -> Tensor:
        """p (1 − p)."""
        return self.probs * (1 - self.probs)


class Bernoulli(Distribution):
    """0/1 draws with ``probs`` or ``logits``."""

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = _t(probs)
            if validate_args is not False and bool(
                ((self.probs < 0) | (self.probs > 1)).any().item()
            ):
                raise ValueError("Expected parameter probs to be within [0, 1]")
            eps = float(np.finfo(self.probs._data.dtype).eps)
            p = _api.clamp(self.probs, eps, 1 - eps)
            self.logits = _api.log(p) - _api.log1p(-p)
        else:
            self.logits = _t(logits)
            self.probs = _api.sigmoid(self.logits)
        super().__init__(tuple(self.probs.shape))

    @property
    def mean(self) -> Tensor:
        """p."""
        return self.probs

    @property
    def variance(self) -> Tensor:
        """p (1 − p)."""
        return self.probs * (1 - self.probs)

    @property
    def mode(self) -> Tensor:
        """1 where p > ½."""
        return (self.probs > 0.5).to(self.probs.dtype)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Float 0/1 draws."""
        shape = self._extended_shape(sample_shape)
        u = rng(None).random(shape)
        return _make((u < np.broadcast_to(self.probs._data, shape)).astype(self.probs._data.dtype))

    def log_prob(self, value: Tensor) -> Tensor:
        """−BCE-with-logits(logits, value)."""
        from ..nn import functional as F

        v = _t(value, self.logits)
        lg, v = _compat.broadcast_tensors(self.logits, v)
        return -F.binary_cross_entropy_with_logits(lg, v, reduction="none")

    def entropy(self) -> Tensor:
        """Binary entropy."""
        from ..nn import functional as F

        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


class Normal(Distribution):
    """Gaussian with ``loc`` and ``scale`` (reparameterised ``rsample``)."""

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: Any = None) -> None:
        self.loc, self.scale = _broadcast_pair(loc, scale)
        if validate_args is not False and bool((self.scale._data <= 0).any()):
            raise ValueError(
                f"Expected parameter scale to be positive, got {self.scale.detach().numpy()}"
            )
        super().__init__(tuple(self.loc.shape))

    @property
    def mean(self) -> Tensor:
        """loc."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        """loc."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        """scale."""
        return self.scale

    @property
    def variance(self) -> Tensor:
        """scale²."""
        return self.scale**2

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc + scale · ε with ε ~ N(0, 1)."""
        shape = self._extended_shape(sample_shape)
        eps = _make(rng(None).standard_normal(shape).astype(self.loc._data.dtype))
        return self.loc + eps * self.scale

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A draw (no gradient)."""
        return self.rsample(sample_shape).detach()

    def log_prob(self, value: Tensor) -> Tensor:
        """log N(value; loc, scale)."""
        v = _t(value, self.loc)
        var = self.scale**2
        return -((v - self.loc) ** 2) / (2 * var) - _api.log(self.scale) - math.log(
            math.sqrt(2 * math.pi))  # fmt: skip

    def entropy(self) -> Tensor:
        """½ + ½ log 2π + log scale."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + _api.log(self.scale)

    def cdf(self, value: Tensor) -> Tensor:
        """Φ((value − loc) / scale)."""
        v = _t(value, self.loc)
        return 0.5 * (1 + _api.erf((v - self.loc) / (self.scale * math.sqrt(2))))

    def __repr__(self) -> str:
        return f"Normal(loc: {self.loc.detach()}, scale: {self.scale.detach()})"


class Uniform(Distribution):
    """Uniform on [low, high)."""

    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: Any = None) -> None:
        self.low, self.high = _broadcast_pair(low, high)
        if validate_args is not False and bool((self.low._data >= self.high._data).any()):
            raise ValueError("Expected parameter low to be less than high")
        super().__init__(tuple(self.low.shape))

    @property
    def mean(self) -> Tensor:
        """(low + high) / 2."""
        return (self.low + self.high) / 2

    @property
    def variance(self) -> Tensor:
        """(high − low)² / 12."""
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """low + u · (high − low)."""
        shape = self._extended_shape(sample_shape)
        u = _make(rng(None).random(shape).astype(self.low._data.dtype))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        """−log(high − low) inside the support, −inf outside."""
        v = _t(value, self.low)
        inside = (v >= self.low) & (v < self.high)
        lp = -_api.log(self.high - self.low) + v * 0
        return _api.where(inside, lp, _api.full_like(lp, float("-inf")))

    def entropy(self) -> Tensor:
        """log(high − low)."""
        return _api.log(self.high - self.low)

    def cdf(self, value: Tensor) -> Tensor:
        """Clamped (value − low) / (high − low)."""
        return _api.clamp((_t(value, self.low) - self.low) / (self.high - self.low), 0, 1)


class Independent(Distribution):
    """Treat the last ``reinterpreted_batch_ndims`` batch dims of ``base`` as event dims."""

    def __init__(
        self,
        base_distribution: Distribution,
        reinterpreted_batch_ndims: int,
        validate_args: Any = None,
    ) -> None:
        n = reinterpreted_batch_ndims
        bs = base_distribution.batch_shape
        if n > len(bs):
            raise ValueError(
                f"Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), "
                f"actual {n} vs {len(bs)}"
            )
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        self.has_rsample = base_distribution.has_rsample
        super().__init__(bs[: len(bs) - n], bs[len(bs) - n :] + base_distribution.event_shape)

    def _sum(self, t: Tensor) -> Tensor:
        n = self.reinterpreted_batch_ndims
        return t.sum(tuple(range(-n, 0))) if n else t

    @property
    def mean(self) -> Tensor:
        """The base mean."""
        return self.base_dist.mean

    @property
    def variance(self) -> Tensor:
        """The base variance."""
        return self.base_dist.variance

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """The base draw."""
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """The base reparameterised draw."""
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: Tensor) -> Tensor:
        """Base log-probs summed over the reinterpreted dims."""
        return self._sum(self.base_dist.log_prob(value))

    def entropy(self) -> Tensor:
        """Base entropies summed over the reinterpreted dims."""
        return self._sum(self.base_dist.entropy())


# ---------------------------------------------------------------------------- KL divergence

_KL: dict[tuple[type, type], Callable] = {}


def register_kl(type_p: type, type_q: type) -> Callable:
    """Decorator registering ``kl(p, q)`` for a pair of distribution types."""

    def deco(fn: Callable) -> Callable:
        _KL[(type_p, type_q)] = fn
        return fn

    return deco


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p ‖ q) for a registered pair of types (Normal, Categorical, Bernoulli, Uniform, …)."""
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
    raise NotImplementedError(
        f"No KL(p || q) is implemented for p = {type(p).__name__} and q = {type(q).__name__}"
    )


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - _api.log(var_ratio))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = _api.where(q.probs == 0, _api.full_like(t, float("inf")), t)
    t = _api.where(p.probs == 0, _api.zeros_like(t), t)
    return t.sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    from ..nn import functional as F

    t1 = p.probs * (F.softplus(-q.logits) - F.softplus(-p.logits))
    t2 = (1 - p.probs) * (F.softplus(q.logits) - F.softplus(p.logits))
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    result = _api.log((q.high - q.low) / (p.high - p.low))
    outside = (q.low._data > p.low._data) | (q.high._data < p.high._data)
    return _api.where(outside, _api.full_like(result, float("inf")), result)


@register_kl(Independent, Independent)
def _kl_independent(p: Independent, q: Independent) -> Tensor:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different event dims")
    return p._sum(kl_divergence(p.base_dist, q.base_dist))
