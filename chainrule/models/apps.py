"""Pieces of the seed applications that are more than a model: transfer learning (a pretrained
feature extractor with a frozen, eval-mode body and a new head; 8x8 digits in MNIST's layout),
deep networks (a plain sigmoid MLP and its ReLU + He + residual + normalisation remedy), and
reading a recording for the spoken-digit models (wrong sample rates resampled or rejected).

Everything is plain PyTorch-style code on ``chainrule.nn``; ``examples/*.py`` show it in use.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn

__all__ = [
    "DeepMLP",
    "FineTuned",
    "fine_tune_model",
    "upsample_digits",
    "few_shot_indices",
    "load_recording",
    "resample",
    "MNIST_MEAN",
    "MNIST_STD",
]

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


# ---------------------------------------------------------------------------- deep networks


class _ResidualBlock(nn.Module):
    """Pre-activation residual block ``x + Linear(ReLU(Norm(x)))`` with He-initialised weights."""

    def __init__(self, width: int, norm: str) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width) if norm == "batch" else nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)
        nn.init.kaiming_normal_(self.linear.weight, nonlinearity="relu")
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Any) -> Any:
        return x + self.linear(cr.relu(self.norm(x)))


class DeepMLP(nn.Module):
    """A ``depth``-hidden-layer MLP for flattened inputs, in one of two styles.

    * ``style='plain-sigmoid'``: ``Linear → Sigmoid`` repeated, PyTorch's default init. Each
      sigmoid multiplies the backward signal by at most 1/4, so after 20 layers the first layers
      get ~1e-10 of the last layer's gradient: the vanishing-gradient problem.
    * ``style='residual'``: a He-initialised stem, ``depth - 1`` pre-activation residual blocks
      (identity paths carry the gradient unchanged; ReLU does not shrink it; normalisation keeps
      every layer's input at unit scale), then ``Norm → ReLU`` before the classifier.

    Args:
        in_features: input size (64 for the 8x8 digits).
        depth: number of hidden layers (20 in the example).
        width: units per hidden layer.
        style: ``'plain-sigmoid'`` or ``'residual'``.
        norm: ``'batch'`` (BatchNorm1d) or ``'layer'`` (LayerNorm) for the residual style.
        num_classes: outputs.
    """

    def __init__(
        self,
        in_features: int = 64,
        depth: int = 20,
        width: int = 64,
        style: str = "plain-sigmoid",
        norm: str = "batch",
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        if style not in ("plain-sigmoid", "residual"):
            raise ValueError(f"style must be 'plain-sigmoid' or 'residual', got {style!r}")
        if norm not in ("batch", "layer"):
            raise ValueError(f"norm must be 'batch' or 'layer', got {norm!r}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.style = style
        layers: list[Any] = [nn.Flatten()]
        if style == "plain-sigmoid":
            sizes = [in_features] + [width] * depth
            for a, b in zip(sizes[:-1], sizes[1:]):
                layers += [nn.Linear(a, b), nn.Sigmoid()]
        else:
            stem = nn.Linear(in_features, width)
            nn.init.kaiming_normal_(stem.weight, nonlinearity="relu")
            nn.init.zeros_(stem.bias)
            layers.append(stem)
            layers += [_ResidualBlock(width, norm) for _ in range(depth - 1)]
            layers += [nn.BatchNorm1d(width) if norm == "batch" else nn.LayerNorm(width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: Any) -> Any:
        return self.head(self.body(x))


# ---------------------------------------------------------------------------- transfer learning


class FineTuned(nn.Module):
    """A pretrained feature extractor, frozen, followed by a new trainable head.

    The features get ``requires_grad_(False)`` (no gradients, the optimizer skips them) and stay
    in eval mode even when the whole model is put in training mode, so BatchNorm layers keep
    using the running statistics learned on the source data instead of updating them from the
    few target examples.
    """

    def __init__(self, features: Any, head: Any, freeze: bool = True) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.frozen = freeze
        if freeze:
            self.features.requires_grad_(False)
            self.features.eval()

    def train(self, mode: bool = True) -> FineTuned:
        """Train mode for the head; a frozen body stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self.features.eval()
        return self

    def forward(self, x: Any) -> Any:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        return self.head(self.features(x))


def fine_tune_model(
    pretrained: Any,
    num_classes: int = 10,
    hidden: int = 128,
    dropout: float = 0.25,
    freeze: bool = True,
) -> FineTuned:
    """A ``FineTuned`` model from an ``MnistCNN`` (a module, or a checkpoint / safetensors path
    holding its state_dict, e.g. one saved by torch): its ``features`` frozen, a new
    ``Flatten → Dropout → Linear → ReLU → Linear`` head."""
    from .vision import MnistCNN

    if isinstance(pretrained, (str, os.PathLike)):
        saved = cr.load(pretrained)
        # a `chainrule train` checkpoint holds the weights under "model" and its task in "extra"
        extra = saved.get("extra") if isinstance(saved.get("extra"), dict) else {}
        task = extra.get("task")
        if task is not None and task != "mnist":
            raise ValueError(
                f"{os.fspath(pretrained)!r} is a checkpoint for task {task!r} (model "
                f"{extra.get('model_name')!r}); fine_tune_model needs an MnistCNN from task 'mnist'"
            )
        state = saved.get("model", saved)
        if "features.0.weight" not in state:
            raise ValueError(
                f"{os.fspath(pretrained)!r} does not hold MnistCNN weights (no "
                f"'features.0.weight'; keys: {sorted(state)[:6]}...)"
            )
        channels = int(state["features.0.weight"].shape[0])
        model = MnistCNN(channels=channels)
        model.load_state_dict(state)
        pretrained = model
    features = pretrained.features
    n_features = _flat_size(features)
    head = nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(n_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
    return FineTuned(features, head, freeze=freeze)


def _flat_size(features: Any) -> int:
    was = features.training
    features.eval()
    with cr.no_grad():
        n = int(np.prod(features(cr.zeros(1, 1, 28, 28)).shape[1:]))
    features.train(was)
    return n


def upsample_digits(x: Any, size: int = 20, canvas: int = 28, normalize: bool = True) -> np.ndarray:
    """8x8 digits (values 0-16 or 0-1; ``(N, 64)``, ``(N, 8, 8)`` or ``(N, 1, 8, 8)``) in MNIST's
    layout: bilinearly resized to ``size`` x ``size`` (MNIST digits fill a 20x20 box), centred
    on a ``canvas`` x ``canvas`` black image, scaled to [0, 1] and, with ``normalize``,
    standardised with MNIST's mean and std. Returns float32 ``(N, 1, canvas, canvas)``."""
    a = np.asarray(getattr(x, "_data", x), dtype=np.float32)
    if a.size % 64:
        raise ValueError(f"upsample_digits expects 8x8 images, got shape {a.shape}")
    a = a.reshape(-1, 8, 8)
    if a.max(initial=0.0) > 1.5:
        a = a / 16.0
    if not 0 < size <= canvas:
        raise ValueError(f"size must be in 1..canvas={canvas}, got {size}")
    rows = _interp_matrix(8, size)
    up = np.einsum("ih,nhw,jw->nij", rows, a, rows)
    out = np.zeros((len(a), 1, canvas, canvas), np.float32)
    lo = (canvas - size) // 2
    out[:, 0, lo : lo + size, lo : lo + size] = up
    if normalize:
        out = (out - MNIST_MEAN) / MNIST_STD
    return out.astype(np.float32)


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Linear interpolation weights (n_out, n_in), half-pixel centres (align_corners=False)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    np.add.at(m, (np.arange(n_out), lo), 1 - w)
    np.add.at(m, (np.arange(n_out), hi), w)
    return m


def few_shot_indices(
    labels: Any, per_class: int, seed: int = 0, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` random indices of every class, and all the remaining indices."""
    y = np.asarray(getattr(labels, "_data", labels)).reshape(-1)
    classes = range(num_classes) if num_classes is not None else np.unique(y)
    rng = np.random.default_rng(seed)
    picked = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than {per_class}")
        picked.append(rng.choice(idx, per_class, replace=False))
    pick = np.sort(np.concatenate(picked))
    return pick, np.setdiff1d(np.arange(len(y)), pick)


# ---------------------------------------------------------------------------- recordings


def resample(x: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling along the last axis (FFT method, as ``scipy.signal.resample``):
    the spectrum is cut (or zero-padded) at the new Nyquist frequency, so downsampling does not
    alias."""
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} and {new_rate}")
    x = np.asarray(x, dtype=np.float32)
    if orig_rate == new_rate:
        return x.copy()
    n = x.shape[-1]
    m = max(1, int(round(n * new_rate / orig_rate)))
    spec = np.fft.rfft(x.astype(np.float64), axis=-1)
    keep = min(spec.shape[-1], m // 2 + 1)
    out_spec = np.zeros(x.shape[:-1] + (m // 2 + 1,), np.complex128)
    out_spec[..., :keep] = spec[..., :keep]
    if m % 2 == 0 and keep == m // 2 + 1 and m < n:
        out_spec[..., -1] = out_spec[..., -1].real  # the new Nyquist bin of an even length
    return (np.fft.irfft(out_spec, n=m, axis=-1) * (m / n)).astype(np.float32)


def load_recording(
    path: str | os.PathLike,
    sample_rate: int = 8000,
    *,
    resample_audio: bool = False,
    features: str = "log_mel",
    num_samples: int = 8000,
    n_fft: int = 256,
    hop_length: int = 80,
    n_mels: int = 40,
    n_mfcc: int = 13,
) -> np.ndarray:
    """A WAV file as the features the spoken-digit models read (``SpokenDigits``' settings):
    ``(n_mels, frames)`` log-mel, ``(n_mfcc, frames)`` MFCC or ``(1, num_samples)`` waveform.

    A file recorded at another rate is rejected with a ValueError naming both rates, unless
    ``resample_audio=True``, which resamples it to ``sample_rate`` first.
    """
    from chainrule.data import audio

    wave, rate = audio.read_wav(path)
    if rate != sample_rate:
        if not resample_audio:
            raise ValueError(
                f"{os.fspath(path)!r} has sample rate {rate} Hz but the model expects "
                f"{sample_rate} Hz; resample it (resample_audio=True, or --resample on the "
                "command line)"
            )
        wave = resample(wave, rate, sample_rate)
    wave = audio.pad_or_crop(wave, num_samples)
    if features == "waveform":
        return wave[None, :].astype(np.float32)
    if features == "log_mel":
        return audio.log_mel_spectrogram(wave, sample_rate, n_fft, hop_length, n_mels)
    if features == "mfcc":
        return audio.mfcc(wave, sample_rate, n_mfcc, n_mels, n_fft, hop_length)
    raise ValueError(f"features must be 'log_mel', 'mfcc' or 'waveform', got {features!r}")
