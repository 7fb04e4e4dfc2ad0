"""Spoken-digit classifiers over log-mel (or MFCC) features of shape ``(N, n_features, frames)``.

Both start with a per-feature BatchNorm1d: log-mel values sit around −10 with a floor at
log(1e-6) ≈ −13.8 in the silent padding, and each mel band has its own scale; normalising per
band is what lets either model learn quickly (a GRU reading the raw values barely learns).
"""

from __future__ import annotations

from typing import Any

from chainrule import nn

__all__ = ["SpokenDigitCNN", "SpokenDigitGRU"]


class SpokenDigitGRU(nn.Module):
    """A GRU reading the normalised feature frames in time order; its outputs, averaged over
    time, are classified. ~98 % on the FSDD test split after 6 epochs (Adam, lr 2e-3).

    Input ``(N, n_features, frames)``.
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
        self.norm = nn.BatchNorm1d(n_features)
        self.gru = nn.GRU(
            n_features,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Any) -> Any:
        frames = self.norm(x).transpose(1, 2)  # (N, frames, n_features)
        out, _ = self.gru(frames)  # (N, frames, hidden)
        # why the mean, not the last state: recordings are zero-padded at the end, so the last
        # state has read a long silence; the average keeps what the spoken part produced.
        return self.head(out.mean(dim=1))


class SpokenDigitCNN(nn.Module):
    """A small 2-D CNN over the (frequency, time) image of a recording.

    Per-band input normalisation, three conv-bn-relu-pool blocks, average pooling to four time
    steps (keeping coarse temporal order), dropout and a linear classifier.
    """

    def __init__(
        self,
        n_features: int = 40,
        channels: int = 16,
        dropout: float = 0.3,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(n_features)
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
        self.pool = nn.AdaptiveAvgPool2d((1, 4))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * in_ch, num_classes)
        )

    def forward(self, x: Any) -> Any:
        x = self.norm(x).unsqueeze(1)  # (N, 1, n_features, frames)
        return self.classifier(self.pool(self.features(x)))
