"""Audio features against independent references, and the seeded transforms."""

from __future__ import annotations

import wave

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import audio, transforms


def test_stft_tone_peaks_in_right_bin():
    sr, n_fft, f = 8000, 256, 1000.0
    t = np.arange(4000) / sr
    x = np.sin(2 * np.pi * f * t).astype(np.float32)
    spec = np.abs(audio.stft(x, n_fft=n_fft, hop_length=64))
    assert spec.shape == (129, 4000 // 64 + 1)
    assert int(spec[:, 10].argmax()) == round(f * n_fft / sr)
    # independent reference: a direct DFT of one frame
    frame = x[1000 : 1000 + n_fft] * audio.hann_window(n_fft)
    k = np.arange(129)[:, None]
    dft = (frame[None, :] * np.exp(-2j * np.pi * k * np.arange(n_fft) / n_fft)).sum(1)
    ours = audio.stft(x, n_fft=n_fft, hop_length=n_fft, center=False)
    # frame starting at sample 1024 (hop 256, no centring) vs the direct DFT of that frame
    frame = x[1024 : 1024 + n_fft] * audio.hann_window(n_fft)
    dft = (frame[None, :] * np.exp(-2j * np.pi * k * np.arange(n_fft) / n_fft)).sum(1)
    np.testing.assert_allclose(ours[:, 4], dft, atol=1e-3)


def test_stft_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    ours = audio.stft(x, n_fft=128, hop_length=32)
    ref = torch.stft(
        torch.from_numpy(x), 128, 32, window=torch.hann_window(128), return_complex=True
    ).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_mel_filterbank_and_mfcc():
    fb = audio.mel_filterbank(129, 0.0, 4000.0, 40, 8000)
    assert fb.shape == (129, 40) and fb.min() >= 0 and fb.max() <= 1.0 + 1e-6
    peaks = fb.argmax(0)
    assert (np.diff(peaks) >= 0).all()
    d = audio.dct_matrix(13, 40)
    np.testing.assert_allclose(d.T @ d, np.eye(13), atol=1e-5)
    sr = 8000
    x = np.sin(2 * np.pi * 500 * np.arange(8000) / sr).astype(np.float32)
    lm = audio.log_mel_spectrogram(x, sr)
    assert lm.shape == (40, 101) and lm.dtype == np.float32
    centre_hz = audio.mel_to_hz(np.linspace(audio.hz_to_mel(0), audio.hz_to_mel(4000), 42)[1:-1])
    assert abs(centre_hz[int(lm[:, 50].argmax())] - 500) < 100
    assert audio.mfcc(x, sr).shape == (13, 101)


def test_read_wav_roundtrip(tmp_path):
    data = (np.sin(np.linspace(0, 20, 800)) * 20000).astype("<i2")
    p = tmp_path / "t.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(data.tobytes())
    x, sr = audio.read_wav(p)
    assert sr == 8000 and x.dtype == np.float32
    np.testing.assert_allclose(x, data / 32768.0, atol=1e-7)
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="bad.wav"):
        audio.read_wav(tmp_path / "bad.wav")
    assert audio.pad_or_crop(np.ones(5), 8).tolist() == [1] * 5 + [0] * 3
    assert audio.pad_or_crop(np.ones(5), 2).shape == (2,)


def test_transforms_seeded_and_correct():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    t = transforms.ToTensor()(img)
    assert (
        t.shape == (1, 4, 4)
        and t.dtype == cr.float32
        and abs(float(t.numpy().max()) - 15 / 255) < 1e-7
    )
    n = transforms.Normalize([0.5], [0.25])(t)
    np.testing.assert_allclose(n.numpy(), (t.numpy() - 0.5) / 0.25, rtol=1e-6)
    aug = transforms.Compose(
        [
            transforms.RandomShift(1, cr.Generator().manual_seed(0)),
            transforms.AddNoise(0.1, cr.Generator().manual_seed(1)),
        ]
    )
    aug2 = transforms.Compose(
        [
            transforms.RandomShift(1, cr.Generator().manual_seed(0)),
            transforms.AddNoise(0.1, cr.Generator().manual_seed(1)),
        ]
    )
    np.testing.assert_array_equal(aug(t).numpy(), aug2(t).numpy())
    c = transforms.RandomCrop(4, padding=2, generator=cr.Generator().manual_seed(0))(t)
    assert c.shape == (1, 4, 4)
    s = transforms.TimeShift(3, cr.Generator().manual_seed(2))(np.arange(10, dtype=np.float32))
    v = s.numpy()
    k = int(np.flatnonzero(v)[0]) - 1  # the shift: a zero-filled prefix, then 1, 2, ...
    np.testing.assert_array_equal(v[k:], np.arange(10 - k, dtype=np.float32))
    with pytest.raises(ValueError, match="std"):
        transforms.Normalize([0.0], [0.0])
