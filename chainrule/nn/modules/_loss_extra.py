"""Metric-learning and probabilistic loss layers (torch.nn's MarginRankingLoss, TripletMarginLoss,
CosineEmbeddingLoss, HingeEmbeddingLoss, SoftMarginLoss, MultiLabelSoftMarginLoss,
GaussianNLLLoss, PoissonNLLLoss): one-line forwards over ``nn.functional``."""

from __future__ import annotations

from typing import Any

from ..._tensor import Tensor
from .loss import _Loss as _BaseLoss
from .loss import _WeightedLoss

__all__ = [
    "MarginRankingLoss",
    "TripletMarginLoss",
    "CosineEmbeddingLoss",
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "GaussianNLLLoss",
    "PoissonNLLLoss",
]


def _F() -> Any:
    from .. import functional

    return functional


class _Loss(_BaseLoss):
    """loss.py's base with F's message for a bad reduction (these layers have always used it)."""

    def _bad_reduction(self, reduction: str) -> str:
        return f"{reduction} is not a valid value for reduction"


class _PairMarginLoss(_Loss):
    """Losses of (input1, input2, target) with one ``margin`` (default 0): forward is ``_fn``."""

    _fn: str

    def __init__(
        self,
        margin: float = 0.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        """The loss."""
        fn = getattr(_F(), self._fn)
        return fn(input1, input2, target, self.margin, reduction=self.reduction)


class MarginRankingLoss(_PairMarginLoss):
    """max(0, −y · (x1 − x2) + margin)."""

    _fn = "margin_ranking_loss"


class TripletMarginLoss(_Loss):
    """max(d(a, p) − d(a, n) + margin, 0)."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        """The loss."""
        return _F().triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
            reduction=self.reduction,
        )  # fmt: skip


class CosineEmbeddingLoss(_PairMarginLoss):
    """1 − cos(x1, x2) for y = 1, max(0, cos(x1, x2) − margin) for y = −1."""

    _fn = "cosine_embedding_loss"


class HingeEmbeddingLoss(_Loss):
    """x for y = 1, max(0, margin − x) for y = −1."""

    def __init__(
        self,
        margin: float = 1.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss."""
        return _F().hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(−y · x))."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss."""
        return _F().soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss, _WeightedLoss):
    """Mean over classes of the binary logistic loss (optional per-class ``weight``)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss."""
        return _F().multilabel_soft_margin_loss(
            input, target, self.weight, reduction=self.reduction
        )


class GaussianNLLLoss(_Loss):
    """Gaussian negative log likelihood with predicted variance."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Any) -> Tensor:
        """The loss."""
        return _F().gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log likelihood."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: Any = None,
        eps: float = 1e-8,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        """The loss."""
        return _F().poisson_nll_loss(
            log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction
        )
