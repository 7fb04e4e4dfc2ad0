"""Metrics (values vs hand computations), History (columns, CSV, plot) and progress output."""

from __future__ import annotations

import io
import math
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import History, metrics
from chainrule.train.progress import format_logs

SCORES = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
LABELS = np.array([1, 0, 1, 2])


def test_accuracy_topk_and_tensors():
    assert metrics.accuracy(SCORES, LABELS) == 0.5
    assert metrics.accuracy(cr.tensor(SCORES), cr.tensor(LABELS)) == 0.5
    assert metrics.top_k_accuracy(SCORES, LABELS, k=2) == 1.0
    assert metrics.top_k_accuracy(SCORES, LABELS, k=1) == 0.5


def test_accuracy_sequence_and_class_second_layouts():
    logits = np.random.default_rng(0).normal(size=(2, 5, 3))  # (N, T, C)
    target = logits.argmax(-1)
    assert metrics.accuracy(logits, target) == 1.0
    assert metrics.accuracy(np.moveaxis(logits, -1, 1), target) == 1.0  # (N, C, T)


def test_binary_accuracy_threshold():
    assert metrics.accuracy(np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 0.0])) == 2 / 3
    assert metrics.accuracy(np.array([2.0, -1.0]), np.array([1.0, 0.0]), threshold=0.0) == 1.0


def test_regression_metrics():
    out, tgt = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
    assert metrics.mae(out, tgt) == pytest.approx(1.0)
    assert metrics.mse(out, tgt) == pytest.approx(5 / 3)
    assert metrics.rmse(out, tgt) == pytest.approx(math.sqrt(5 / 3))
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        metrics.mae(out, tgt[:, None])


def test_perplexity_equals_exp_cross_entropy():
    logits = np.random.default_rng(1).normal(size=(6, 4))
    target = np.array([0, 1, 2, 3, 0, 1])
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -logp[np.arange(6), target].mean()
    assert metrics.perplexity(logits, target) == pytest.approx(math.exp(ce))
    uniform = np.zeros((3, 7))
    assert metrics.perplexity(uniform, np.array([0, 1, 2])) == pytest.approx(7.0)


def test_confusion_matrix_and_per_class_scores():
    cm = metrics.confusion_matrix(SCORES, LABELS)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
    prf = metrics.precision_recall_f1(SCORES, LABELS)
    np.testing.assert_allclose(prf["precision"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(prf["recall"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(prf["f1"], [1.0, 0.5, 0.0])
    assert prf["support"].tolist() == [1, 2, 1]


def test_running_metrics_equal_whole_set_values():
    rng = np.random.default_rng(2)
    out, tgt = rng.normal(size=(50, 5)), rng.integers(0, 5, 50)
    for name, fn in [("accuracy", metrics.accuracy), ("perplexity", metrics.perplexity)]:
        m = metrics.get_metric(name)
        for i in range(0, 50, 16):  # uneven last batch
            m.update(out[i : i + 16], tgt[i : i + 16])
        assert m.compute() == pytest.approx(fn(out, tgt))
    top3 = metrics.get_metric("top3_accuracy")
    top3.update(out, tgt)
    assert top3.name == "top3_accuracy"
    assert top3.compute() == pytest.approx(metrics.top_k_accuracy(out, tgt, 3))
    f1 = metrics.get_metric("f1")
    f1.update(out, tgt)
    assert f1.compute() == pytest.approx(metrics.precision_recall_f1(out, tgt)["f1"].mean())


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError, match="unknown metric 'acc'.*accuracy.*mae.*perplexity"):
        metrics.get_metric("acc")


def _history() -> History:
    h = History()
    for e, (loss, val) in enumerate([(1.0, 1.1), (0.5, 0.7), (0.3, 0.8)], start=1):
        h.append({"epoch": e, "loss": loss, "val_loss": val, "lr": 0.1, "time": 0.01})
    return h


def test_history_columns_and_csv(tmp_path):
    h = _history()
    assert h["val_loss"] == [1.1, 0.7, 0.8]
    assert h.to_dict()["epoch"] == [1, 2, 3]
    assert History.from_dict(h.to_dict()).records == h.records
    text = h.to_csv(tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text() == text
    assert text.splitlines()[0] == "epoch,loss,val_loss,lr,time"
    assert len(text.splitlines()) == 4
    with pytest.raises(KeyError, match="accuracy"):
        h["accuracy"]


def test_history_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    fig = _history().plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert len(fig.axes) == 1  # one panel: loss (train and val)


def test_history_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"chainrule\[plot\]"):
        _history().plot()


def test_format_logs():
    text = format_logs({"epoch": 1, "loss": 0.12345, "lr": 0.001, "time": 1.25})
    assert text == "loss 0.1235 · lr 0.001 · 1.2s"
    assert "loss nan" in format_logs({"loss": math.nan})
    assert isinstance(io.StringIO().isatty(), bool)
