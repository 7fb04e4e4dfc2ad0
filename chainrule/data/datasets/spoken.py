"""The Free Spoken Digit Dataset (FSDD): 3,000 8 kHz WAV recordings of digits by six speakers."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import audio
from ._common import ArrayDataset, find_root

__all__ = ["SpokenDigits", "SPEAKERS"]

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


class SpokenDigits(ArrayDataset):
    """Spoken digits 0-9 as fixed-length features.

    Args:
        root: directory with ``recordings/`` (default ``data/fsdd``).
        split: ``'train'`` (takes 5-49), ``'test'`` (takes 0-4, the standard split) or ``'all'``.
        features: ``'log_mel'`` (``(n_mels, frames)``), ``'mfcc'`` (``(n_mfcc, frames)``) or
            ``'waveform'`` (``(1, num_samples)``).
        speaker: keep only these speakers (a name or a list), e.g. for a held-out speaker.
        exclude_speakers: drop these speakers (leave-one-speaker-out training).
        num_samples: waveforms are zero-padded / cropped to this length (default 1 s at 8 kHz).
        sample_rate, n_fft, hop_length, n_mels, n_mfcc: feature settings.
        transform / target_transform: applied to each sample's feature tensor / int label.

    Attributes: ``speakers`` (name per item), ``takes``, ``files``; samples are
    ``(float32 tensor, int digit)``.
    """

    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        split: str = "train",
        features: str = "log_mel",
        speaker: str | Sequence[str] | None = None,
        exclude_speakers: Sequence[str] = (),
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        num_samples: int = 8000,
        sample_rate: int = 8000,
        n_fft: int = 256,
        hop_length: int = 80,
        n_mels: int = 40,
        n_mfcc: int = 13,
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        if features not in ("log_mel", "mfcc", "waveform"):
            raise ValueError(f"features must be 'log_mel', 'mfcc' or 'waveform', got {features!r}")
        if (
            root is not None
            and (os.path.isdir(os.path.join(root, "recordings")) is False)
            and (os.path.isdir(os.path.join(root, "fsdd", "recordings")))
        ):
            root = os.path.join(root, "fsdd")
        directory = find_root(root, "fsdd", [["recordings"]]) / "recordings"
        wanted = {speaker} if isinstance(speaker, str) else set(speaker or ())
        excluded = set(exclude_speakers)
        files, digits, speakers, takes = [], [], [], []
        for name in sorted(os.listdir(directory)):
            m = _NAME.match(name)
            if m is None:
                continue
            digit, who, take = int(m[1]), m[2], int(m[3])
            if (split == "test" and take >= 5) or (split == "train" and take < 5):
                continue
            if (wanted and who not in wanted) or who in excluded:
                continue
            files.append(str(directory / name))
            digits.append(digit)
            speakers.append(who)
            takes.append(take)
        if not files:
            known = sorted({m[2] for n in os.listdir(directory) if (m := _NAME.match(n))})
            raise FileNotFoundError(
                f"SpokenDigits: no recordings in {str(directory)!r} match split={split!r}, "
                f"speaker={speaker!r}, exclude_speakers={list(excluded)} "
                f"(speakers present: {known})"
            )
        waves = np.zeros((len(files), num_samples), np.float32)
        for i, path in enumerate(files):
            x, rate = audio.read_wav(path)
            if rate != sample_rate:
                raise ValueError(
                    f"SpokenDigits: {path!r} has sample rate {rate} Hz, expected {sample_rate} Hz"
                )
            waves[i] = audio.pad_or_crop(x, num_samples)
        if features == "waveform":
            inputs = waves[:, None, :]
        elif features == "log_mel":
            inputs = audio.log_mel_spectrogram(waves, sample_rate, n_fft, hop_length, n_mels)
        else:
            inputs = audio.mfcc(waves, sample_rate, n_mfcc, n_mels, n_fft, hop_length)
        self.root = directory
        self.split = split
        self.features = features
        self.files = files
        self.speakers = speakers
        self.takes = np.asarray(takes)
        self.sample_rate = sample_rate
        self._set_arrays(
            np.ascontiguousarray(inputs, dtype=np.float32),
            np.asarray(digits, dtype=np.int64),
            transform,
            target_transform,
        )
