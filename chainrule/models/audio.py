"""Spoken-digit classifiers over log-mel (or MFCC) features of shape ``(N, n_mels, frames)``."""

from __future__ import annotations

from typing import Any

from chainrule import nn

__all__ = ["SpokenDigitCNN", "SpokenDigitGRU"]


class SpokenDigitCNN(nn.Module):
    """A small 2-D CNN over the (frequency, time) image of a recording.

    Three conv-bn-relu-pool blocks, global average pooling, dropout, a linear classifier.
    """

    def __init__(self, channels: int = 16, dropout: float = 0.3, num_classes: int = 10) -> None:
        super().__init__()
        blocks = []
        in_ch = 1
        for out_ch in (channels, 2 * channels, 4 * channels):
            blocks += [
                nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_ch, num_classes)
        )

    def forward(self, x: Any) -> Any:
        if x.ndim == 3:  # (N, n_mels, frames) → one input channel
            x = x.unsqueeze(1)
        return self.classifier(self.pool(self.features(x)))


class SpokenDigitGRU(nn.Module):
    """A GRU reading the feature frames in time order; the last hidden state is classified.

    Input ``(N, n_features, frames)``; each frame's features are normalised by a LayerNorm.
    """

    def __init__(
        self,
        n_features: int = 40,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.2,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_features)
        self.gru = nn.GRU(
            n_features,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Any) -> Any:
        frames = self.norm(x.transpose(1, 2))  # (N, frames, n_features)
        _, h = self.gru(frames)  # h: (num_layers, N, hidden)
        return self.head(h[-1])
