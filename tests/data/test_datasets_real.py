"""The real data sets load from the repository / package files with the right sizes and values."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader
from chainrule.data.datasets import (
    MNIST,
    Digits,
    SpokenDigits,
    TextCorpus,
    TinyShakespeare,
    Vocab,
    batchify,
    get_batch,
    read_idx,
)


def test_digits_bundled():
    ds = Digits()
    assert len(ds) == 1797
    x, y = ds[0]
    assert x.shape == (1, 8, 8) and x.dtype == cr.float32 and y == 0
    assert float(x.numpy().max()) <= 1.0 and ds.data.shape == (1797, 8, 8)
    assert sorted(set(ds.targets.tolist())) == list(range(10))
    tr, te = Digits(train=True), Digits(train=False)
    assert len(tr) + len(te) == 1797 and 340 <= len(te) <= 380
    assert Digits(flatten=True)[0][0].shape == (64,)
    (xb, yb), *_ = DataLoader(tr, batch_size=32)
    assert xb.shape == (32, 1, 8, 8) and yb.dtype == cr.int64
    np.testing.assert_array_equal(xb.numpy()[3], tr[3][0].numpy())


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(train=False)


def test_mnist_test_set(mnist_test):
    ds = mnist_test
    assert len(ds) == 10000 and ds.data.shape == (10000, 28, 28)
    counts = np.bincount(ds.targets.numpy(), minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == cr.float32 and y == 7
    assert float(x.numpy().min()) >= 0.0 and float(x.numpy().max()) <= 1.0
    raw = MNIST(train=False, as_float=False)[0][0]
    assert raw.dtype == cr.uint8 and raw.shape == (28, 28)


def test_mnist_first_train_label_is_5(tmp_path):
    path = Path(__file__).resolve().parents[2] / "data" / "mnist" / "train-labels-idx1-ubyte.gz"
    labels = read_idx(path, expected_magic=2049)
    assert labels.shape == (60000,) and labels[0] == 5
    assert np.bincount(labels).tolist()[:3] == [5923, 6742, 5958]


def _write_idx(path, arr, magic_dims):
    header = bytes([0, 0, 8, magic_dims]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def test_mnist_raw_files_and_validation(tmp_path):
    imgs = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs, 3)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([3, 4]), 1)
    ds = MNIST(tmp_path, train=False)
    assert len(ds) == 2 and ds[1][1] == 4
    # truncated data: the size check names the file
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="t10k-images"):
        MNIST(tmp_path, train=False)
    # labels file passed where images are expected: wrong magic number
    (tmp_path / "bad").write_bytes(
        gzip.compress(b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x01")
    )
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad", expected_magic=2051)


def test_missing_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="never downloads"):
        MNIST(tmp_path, download=True)
    with pytest.raises(FileNotFoundError, match="input.txt"):
        TinyShakespeare(tmp_path)
    with pytest.raises(FileNotFoundError, match="recordings"):
        SpokenDigits(tmp_path)


def test_vocab_word_level():
    v = Vocab.build(["a", "b", "a", "c", "a", "b"] + ["<eos>"], min_freq=1)
    assert v.itos[:3] == ["<unk>", "a", "b"] and len(v) == 5
    assert v["zzz"] == v.unk_index == 0
    ids = v.encode("a b zzz")
    assert ids.tolist() == [1, 2, 0] and ids.dtype == np.int64
    assert v.decode(ids) == "a b <unk>"
    assert len(Vocab.build(["a", "b", "a", "c"], min_freq=2)) == 2
    assert len(Vocab.build(["a", "b", "a", "c", "d", "e"], max_size=3)) == 3


def test_corpus_char_and_word():
    text = "hello world\nhello there\n" * 10
    c = TextCorpus(text, level="char", val_fraction=0.2)
    assert c.vocab.decode(c.train[:5]) == "hello"
    assert len(c.train) + len(c.valid) == len(text) and c.train.dtype == cr.int64
    w = TextCorpus(text, level="word", val_fraction=0.25)
    assert w.vocab.decode(w.train[:3]) == "hello world\n"


def test_tiny_shakespeare_char():
    ds = TinyShakespeare(level="char", seq_len=32)
    assert len(ds.vocab) == 65
    x, y = ds[0]
    assert x.shape == (32,) and x.dtype == cr.int64
    np.testing.assert_array_equal(x.numpy()[1:], y.numpy()[:-1])
    assert ds.vocab.decode(x).startswith("First Citizen:")
    val = TinyShakespeare(level="char", seq_len=32, split="val")
    n_total = len(ds.corpus.train) + len(ds.corpus.valid)
    assert n_total == 1115394 and len(val) == (len(ds.corpus.valid) - 1) // 32
    (xb, yb), *_ = DataLoader(ds, batch_size=4)
    np.testing.assert_array_equal(xb.numpy()[2], ds[2][0].numpy())
    np.testing.assert_array_equal(yb.numpy()[2], ds[2][1].numpy())


def test_tiny_shakespeare_word_and_bptt():
    ds = TinyShakespeare(level="word", seq_len=20, max_size=5000, split="val")
    assert len(ds.vocab) == 5000 and ds.vocab.itos[0] == "<unk>"
    src = batchify(ds.corpus.train[:1000], 10)
    assert src.shape == (100, 10)
    np.testing.assert_array_equal(src.numpy()[:, 1], ds.corpus.train.numpy()[100:200])
    data, target = get_batch(src, 0, bptt=35)
    assert data.shape == (35, 10) and target.shape == (350,)
    np.testing.assert_array_equal(target.numpy(), src.numpy()[1:36].reshape(-1))
    data, target = get_batch(src, 90, bptt=35)
    assert data.shape == (9, 10)


@pytest.fixture(scope="module")
def fsdd_test():
    return SpokenDigits(split="test")


def test_spoken_digits_test_split(fsdd_test):
    ds = fsdd_test
    assert len(ds) == 300 and max(ds.takes) <= 4
    x, y = ds[0]
    assert x.shape == (40, 101) and x.dtype == cr.float32 and 0 <= y <= 9
    assert np.bincount(ds.targets.numpy()).tolist() == [30] * 10
    assert sorted(set(ds.speakers)) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def test_spoken_digits_speaker_filter_and_features():
    one = SpokenDigits(split="all", speaker="theo", features="mfcc")
    assert len(one) == 500 and set(one.speakers) == {"theo"} and one[0][0].shape == (13, 101)
    wav = SpokenDigits(split="test", speaker=["george"], features="waveform")
    assert len(wav) == 50 and wav[0][0].shape == (1, 8000)
    assert float(np.abs(wav[0][0].numpy()).max()) <= 1.0
    with pytest.raises(ValueError, match="features"):
        SpokenDigits(features="spectrum")


def test_mnist_train_set_and_transform_path():
    ds = MNIST(train=True)
    assert len(ds) == 60000 and ds[0][1] == 5 and ds.targets.dtype == cr.int64
    sub = cr.data.Subset(ds, list(range(10)))
    ((fast_x, fast_y),) = list(DataLoader(sub, batch_size=10))
    ds.transform = lambda x: x  # a transform turns the fast path off: per-sample fetch
    ((slow_x, slow_y),) = list(DataLoader(sub, batch_size=10))
    np.testing.assert_array_equal(fast_x.numpy(), slow_x.numpy())
    np.testing.assert_array_equal(fast_y.numpy(), slow_y.numpy())
    assert fast_x.shape == (10, 1, 28, 28) and fast_x.dtype == cr.float32
