"""Audio I/O and features in NumPy: WAV reading (stdlib ``wave``), STFT, mel filters, log-mel, MFCC.

Conventions follow torch / torchaudio where they have one: ``stft`` returns ``(..., n_fft // 2 + 1,
n_frames)`` with a periodic Hann window and centred, reflect-padded frames (``torch.stft``);
``mel_filterbank`` is ``torchaudio.functional.melscale_fbanks`` (HTK mel scale, shape
``(n_freqs, n_mels)``). Everything works on a batch: leading dimensions are kept.
"""

from __future__ import annotations

import math
import os
import wave

import numpy as np

__all__ = [
    "read_wav",
    "pad_or_crop",
    "hann_window",
    "stft",
    "spectrogram",
    "hz_to_mel",
    "mel_to_hz",
    "mel_filterbank",
    "log_mel_spectrogram",
    "dct_matrix",
    "mfcc",
]


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file: ``(float32 samples in [-1, 1] (mono: channels averaged), rate)``."""
    try:
        with wave.open(os.fspath(path), "rb") as w:
            n_channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{os.fspath(path)!r}: not a PCM WAV file ({e})") from e
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    else:
        raise ValueError(f"{os.fspath(path)!r}: unsupported sample width {width} bytes")
    if n_channels > 1:
        x = x.reshape(-1, n_channels).mean(axis=1, dtype=np.float32)
    return x, rate


def pad_or_crop(x: np.ndarray, length: int, axis: int = -1) -> np.ndarray:
    """Zero-pad at the end, or crop the end, so that ``x.shape[axis] == length``."""
    x = np.asarray(x)
    n = x.shape[axis]
    if n >= length:
        return np.take(x, np.arange(length), axis=axis)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, length - n)
    return np.pad(x, pad)


def hann_window(n: int, periodic: bool = True, dtype: np.dtype = np.float32) -> np.ndarray:
    """Hann window (periodic by default, as ``torch.hann_window``)."""
    if n == 1:
        return np.ones(1, dtype)
    denom = n if periodic else n - 1
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / denom)).astype(dtype)


def stft(
    x: np.ndarray,
    n_fft: int = 256,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: np.ndarray | None = None,
    center: bool = True,
    pad_mode: str = "reflect",
) -> np.ndarray:
    """Short-time Fourier transform, complex ``(..., n_fft // 2 + 1, n_frames)`` (torch.stft)."""
    x = np.asarray(x)
    hop = hop_length or n_fft // 4
    win_length = win_length or n_fft
    if window is None:
        window = hann_window(win_length, dtype=x.dtype if x.dtype.kind == "f" else np.float32)
    if win_length < n_fft:  # centre the window inside the frame, as torch does
        left = (n_fft - win_length) // 2
        window = np.pad(window, (left, n_fft - win_length - left))
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        x = np.pad(x, pad, mode=pad_mode)
    if x.shape[-1] < n_fft:
        raise ValueError(f"stft: signal of {x.shape[-1]} samples is shorter than n_fft={n_fft}")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop, :]
    spec = np.fft.rfft(frames * window, axis=-1)
    return np.swapaxes(spec, -1, -2)


def spectrogram(
    x: np.ndarray,
    n_fft: int = 256,
    hop_length: int | None = None,
    power: float = 2.0,
    **kwargs: object,
) -> np.ndarray:
    """``|stft(x)| ** power`` (float, same layout as ``stft``)."""
    mag = np.abs(stft(x, n_fft, hop_length, **kwargs))  # type: ignore[arg-type]
    return mag**power if power != 1.0 else mag


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of ``hz_to_mel``."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    norm: str | None = None,
) -> np.ndarray:
    """Triangular mel filters, shape ``(n_freqs, n_mels)`` (``torchaudio``'s ``melscale_fbanks``).

    Filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2`` of ``n_mels + 2``
    points spaced evenly on the mel scale; ``norm='slaney'`` scales each to unit area.
    """
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    f_pts = mel_to_hz(m_pts)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if norm == "slaney":
        fb *= (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels]))[None, :]
    elif norm is not None:
        raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
    return fb.astype(np.float32)


def log_mel_spectrogram(
    x: np.ndarray,
    sample_rate: int = 8000,
    n_fft: int = 256,
    hop_length: int | None = 80,
    n_mels: int = 40,
    f_min: float = 0.0,
    f_max: float | None = None,
    eps: float = 1e-6,
) -> np.ndarray:
    """``log(mel power spectrogram + eps)``: float32 ``(..., n_mels, n_frames)``."""
    power = spectrogram(np.asarray(x, dtype=np.float32), n_fft, hop_length)
    fb = mel_filterbank(n_fft // 2 + 1, f_min, f_max or sample_rate / 2, n_mels, sample_rate)
    mel = np.swapaxes(np.swapaxes(power, -1, -2) @ fb, -1, -2)
    return np.log(mel + eps).astype(np.float32)


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape ``(n_mels, n_mfcc)`` (torchaudio's ``create_dct``)."""
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[None, :]
    basis = np.cos(math.pi / n_mels * (n[:, None] + 0.5) * k)
    basis[:, 0] *= 1.0 / math.sqrt(2.0)
    return (basis * math.sqrt(2.0 / n_mels)).astype(np.float32)


def mfcc(
    x: np.ndarray,
    sample_rate: int = 8000,
    n_mfcc: int = 13,
    n_mels: int = 40,
    n_fft: int = 256,
    hop_length: int | None = 80,
    **kwargs: object,
) -> np.ndarray:
    """Mel-frequency cepstral coefficients (DCT of the log-mel spectrum), ``(..., n_mfcc, T)``."""
    logmel = log_mel_spectrogram(x, sample_rate, n_fft, hop_length, n_mels, **kwargs)  # type: ignore
    return np.swapaxes(np.swapaxes(logmel, -1, -2) @ dct_matrix(n_mfcc, n_mels), -1, -2)
