"""Spoken digits (FSDD) end to end: the real WAV files, log-mel features, the CNN and the GRU,
the standard split, and recordings at the wrong sample rate (rejected naming it, or resampled)."""

from __future__ import annotations

import wave

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim, train
from chainrule.cli import main
from chainrule.data.datasets import SpokenDigits
from chainrule.models import SpokenDigitCNN, SpokenDigitGRU
from chainrule.models.apps import load_recording, resample


@pytest.fixture(scope="module")
def george():
    """One speaker's 500 recordings (log-mel), standardised per mel band."""
    ds = SpokenDigits(split="all", speaker="george")
    x, y = ds.inputs, ds.targets_array
    mean, std = x.mean(axis=(0, 2), keepdims=True), x.std(axis=(0, 2), keepdims=True) + 1e-5
    return ((x - mean) / std).astype(np.float32), y, ds


def write_wav(path, samples, rate):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_standard_split_on_the_real_files():
    test = SpokenDigits(split="test", speaker=["george", "jackson"])
    assert len(test) == 2 * 10 * 5  # takes 0-4 of every digit of every speaker
    assert set(test.takes.tolist()) == {0, 1, 2, 3, 4}
    x, y = test[0]
    assert tuple(x.shape) == (40, 101) and 0 <= y <= 9
    train_split = SpokenDigits(split="train", speaker="george")
    assert len(train_split) == 450 and train_split.takes.min() == 5


def test_gru_learns_one_speaker(george):
    x, y, ds = george
    test = ds.takes < 5  # the standard split within this speaker
    tr = np.random.default_rng(0).permutation(np.flatnonzero(~test))[:300]
    x = x[:, :, ::2]  # every other frame: half the recurrent steps
    cr.manual_seed(0)
    model = SpokenDigitGRU(n_features=40, hidden_size=32, num_layers=1)
    history = train.fit(model, (x[tr], y[tr]), loss=nn.CrossEntropyLoss(),
                        optimizer=optim.Adam(model.parameters(), lr=1e-2), epochs=4,
                        batch_size=25, seed=0, progress=False)  # fmt: skip
    assert history["loss"][-1] < history["loss"][0] - 0.5
    acc = float((train.predict(model, x[test]).numpy().argmax(1) == y[test]).mean())
    assert acc > 0.5, acc  # chance is 0.1


def test_cnn_fits_a_few_recordings(george):
    x, y, _ = george
    idx = np.random.default_rng(1).choice(len(y), 40, replace=False)
    cr.manual_seed(0)
    model = SpokenDigitCNN(channels=8)
    assert tuple(model(cr.from_numpy(x[:2])).shape) == (2, 10)
    history = train.fit(model, (x[idx], y[idx]), loss=nn.CrossEntropyLoss(),
                        optimizer=optim.Adam(model.parameters(), lr=1e-2), epochs=4,
                        batch_size=20, seed=0, progress=False)  # fmt: skip
    assert history["loss"][-1] < history["loss"][0]


def test_wrong_sample_rate_is_rejected_naming_it(tmp_path):
    path = tmp_path / "16k.wav"
    t = np.arange(16000) / 16000
    write_wav(path, 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    with pytest.raises(ValueError, match="16000 Hz") as info:
        load_recording(path)
    assert "8000 Hz" in str(info.value)
    # and the data set refuses a directory holding such a file
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    write_wav(rec / "3_george_7.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    with pytest.raises(ValueError, match="16000"):
        SpokenDigits(tmp_path / "fsdd", split="all")


def test_wrong_sample_rate_resampled(tmp_path):
    t16, t8 = np.arange(16000) / 16000, np.arange(8000) / 8000
    write_wav(tmp_path / "16k.wav", 0.5 * np.sin(2 * np.pi * 440 * t16), 16000)
    write_wav(tmp_path / "8k.wav", 0.5 * np.sin(2 * np.pi * 440 * t8), 8000)
    resampled = load_recording(tmp_path / "16k.wav", resample_audio=True)
    native = load_recording(tmp_path / "8k.wav")
    assert resampled.shape == native.shape == (40, 101)
    loud = native > -6  # the tone's bands; near-silent bands differ in rounding noise only
    assert loud.any()
    np.testing.assert_allclose(resampled[loud], native[loud], atol=0.05)
    # a 3 kHz tone survives 16k -> 8k; a 6 kHz one (above the new Nyquist) is removed, not aliased
    y = resample(np.sin(2 * np.pi * 6000 * t16).astype(np.float32), 16000, 8000)
    assert np.abs(y).max() < 1e-3
    y = resample(np.sin(2 * np.pi * 3000 * t16).astype(np.float32), 16000, 8000)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * 3000 * t8), atol=1e-3)


def test_cli_predicts_a_wav_and_rejects_a_wrong_rate(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--task", "spoken-digits", "--model", "cnn", "--epochs", "1",
                 "--limit", "64", "--no-progress", "--no-plot", "--out", str(out)])  # fmt: skip
    assert code == 0
    ckpt = str(out / "checkpoint.safetensors")
    wav = tmp_path / "16k.wav"
    write_wav(wav, 0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000), 16000)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["predict", ckpt, "--input", str(wav)])
    assert info.value.code == 1  # a run-time failure (the file), not a usage error
    assert "16000 Hz" in capsys.readouterr().err
    assert main(["predict", ckpt, "--input", str(wav), "--resample"]) == 0
    assert "predicted" in capsys.readouterr().out
