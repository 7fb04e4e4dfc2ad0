"""Image classifiers for the 8x8 UCI digits and 28x28 MNIST, written as plain PyTorch-style
modules: layers in ``__init__``, the computation in ``forward``."""

from __future__ import annotations

from typing import Any

from chainrule import nn

__all__ = ["DigitsMLP", "DigitsCNN", "MnistMLP", "MnistCNN"]


class DigitsMLP(nn.Module):
    """64 → hidden → hidden → 10 with ReLU; input ``(N, 1, 8, 8)`` or ``(N, 64)``."""

    def __init__(self, hidden: int = 128, dropout: float = 0.1, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Any) -> Any:
        return self.net(x)


class DigitsCNN(nn.Module):
    """Two 3x3 conv layers, one 2x2 max-pool, then a small classifier; input ``(N, 1, 8, 8)``.

    8x8 → conv(16) → conv(32) → pool → 4x4x32 = 512 features → 64 → 10.
    """

    def __init__(self, channels: int = 16, dropout: float = 0.2, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(2 * channels * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: Any) -> Any:
        if x.ndim == 2:  # flattened (N, 64) digits
            x = x.reshape(-1, 1, 8, 8)
        return self.classifier(self.features(x))


class MnistMLP(nn.Module):
    """784 → 512 → 256 → 10 with ReLU and dropout; input ``(N, 1, 28, 28)`` or ``(N, 784)``."""

    def __init__(self, hidden: int = 512, dropout: float = 0.2, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden // 2, num_classes),
        )

    def forward(self, x: Any) -> Any:
        return self.net(x)


class MnistCNN(nn.Module):
    """(conv-bn-relu-pool) x 2, then dropout and two linear layers; input ``(N, 1, 28, 28)``.

    28x28 → 32 ch → pool 14x14 → 64 ch → pool 7x7 → 3136 → 128 → 10.
    """

    def __init__(self, channels: int = 32, dropout: float = 0.25, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(2 * channels * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: Any) -> Any:
        if x.ndim == 2:
            x = x.reshape(-1, 1, 28, 28)
        return self.classifier(self.features(x))
