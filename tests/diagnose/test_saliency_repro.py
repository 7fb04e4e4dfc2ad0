"""Saliency, integrated gradients (completeness), seeding, deterministic mode and multi_seed."""

from __future__ import annotations

import random

import numpy as np
import pytest

import chainrule as cr
from chainrule import diagnose


def _model(w: np.ndarray, b: np.ndarray):
    W, B = cr.tensor(w), cr.tensor(b)

    def f(x):
        return (x @ W + B).tanh() * 2.0

    return f


def test_saliency_matches_hand_gradient() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    x = cr.tensor(rng.standard_normal((2, 4)).astype(np.float32))
    s = diagnose.saliency(_model(w, b), x, target=1, abs=False)
    z = x.numpy() @ w + b
    expect = (2 * (1 - np.tanh(z[:, 1]) ** 2))[:, None] * w[:, 1][None, :]
    np.testing.assert_allclose(s.numpy(), expect, rtol=1e-5)
    assert (diagnose.saliency(_model(w, b), x, target=1).numpy() >= 0).all()
    # target=None picks the predicted class per sample
    pred = np.argmax(np.tanh(z), 1)
    s2 = diagnose.saliency(_model(w, b), x, abs=False).numpy()
    for i in range(2):
        np.testing.assert_allclose(
            s2[i], 2 * (1 - np.tanh(z[i, pred[i]]) ** 2) * w[:, pred[i]], rtol=1e-5
        )


def test_integrated_gradients_completeness() -> None:
    rng = np.random.default_rng(1)
    f = _model(rng.standard_normal((5, 3)), rng.standard_normal(3))
    x = cr.tensor(rng.standard_normal((3, 5)))
    ig = diagnose.integrated_gradients(f, x, target=2, steps=64)
    assert ig.complete, ig.completeness()
    total = ig.attributions.numpy().sum(1)
    np.testing.assert_allclose(total, ig.score_x - ig.score_baseline, rtol=1e-3, atol=1e-4)
    assert "completeness holds" in ig.completeness()
    assert isinstance(ig, cr.Tensor) and ig.shape == x.shape
    np.testing.assert_allclose(ig.sum(1).numpy(), total, rtol=1e-6)
    # linear model: IG is exact, attributions = x * w
    W = rng.standard_normal((5, 2))
    ig2 = diagnose.integrated_gradients(lambda t: t @ cr.tensor(W), x, target=0, steps=3)
    np.testing.assert_allclose(ig2.attributions.numpy(), x.numpy() * W[:, 0], rtol=1e-10)
    bad = diagnose.integrated_gradients(f, x * 30, target=2, steps=1, rtol=1e-6, atol=1e-9)
    assert not bad.complete and "FAILS" in bad.completeness()


def test_attribution_bad_input() -> None:
    with pytest.raises(TypeError, match="floating point"):
        diagnose.saliency(lambda t: t, cr.tensor([[1, 2]]))
    with pytest.raises(IndexError):
        diagnose.saliency(lambda t: t * 1.0, cr.randn(2, 3), target=7)


def test_heatmap_plots(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    img = cr.randn(1, 8, 8)
    fig = diagnose.plot_heatmap(cr.randn(1, 8, 8), img, path=tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0 and fig.axes
    fig2 = diagnose.plot_heatmap(cr.randn(100), cr.randn(100))
    assert fig2.axes


def test_seed_everything_covers_all_rngs() -> None:
    diagnose.seed_everything(7)
    a = (random.random(), np.random.rand(), cr.randn(3).numpy())
    diagnose.seed_everything(7)
    b = (random.random(), np.random.rand(), cr.randn(3).numpy())
    assert a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])
    with pytest.raises(TypeError):
        diagnose.seed_everything(1.5)


def _train(seed: int) -> bytes:
    """A few SGD steps of a tiny MLP written with raw tensors."""
    diagnose.seed_everything(seed)
    w1 = (cr.randn(16, 32) * 0.3).requires_grad_()
    w2 = (cr.randn(32, 4) * 0.3).requires_grad_()
    x, y = cr.randn(64, 16), cr.randn(64, 4)
    for _ in range(5):
        loss = (((x @ w1).tanh() @ w2 - y) ** 2).mean()
        w1.grad = w2.grad = None
        loss.backward()
        with cr.no_grad():
            w1 -= 0.1 * w1.grad
            w2 -= 0.1 * w2.grad
    return w1.detach().numpy().tobytes() + w2.detach().numpy().tobytes()


def test_deterministic_bitwise_repeat() -> None:
    with diagnose.deterministic() as d:
        assert diagnose.is_deterministic()
        first = _train(3)
        second = _train(3)
    assert first == second
    assert not diagnose.is_deterministic()
    assert d.uses_threadpoolctl in (True, False)
    assert _train(4) != first


def test_t_quantile_table() -> None:
    for df, q in [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (29, 2.0452)]:
        assert diagnose.t_quantile(0.975, df) == pytest.approx(q, abs=1e-4)
    assert diagnose.t_quantile(0.025, 4) == pytest.approx(-2.7764, abs=1e-4)


def test_multi_seed_statistics_known_function() -> None:
    res = diagnose.multi_seed(
        lambda s: {"acc": float(s), "loss": [2.0, 1.0, 1.0 / s]}, [1, 2, 3, 4]
    )
    summ = res.summary()["acc"]
    assert summ["mean"] == 2.5
    assert summ["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    half = 3.182446 * summ["std"] / 2  # t(0.975, 3) · s / √4
    assert summ["ci_low"] == pytest.approx(2.5 - half, rel=1e-5)
    assert summ["ci_high"] == pytest.approx(2.5 + half, rel=1e-5)
    assert res.metrics["loss"] == [1.0, 0.5, 1 / 3, 0.25]
    assert res.mean["acc"] == 2.5 and res.interval["acc"] == (summ["ci_low"], summ["ci_high"])
    single = diagnose.multi_seed(lambda s: float(s), [2, 4])
    assert single.mean == 3.0 and single.std == pytest.approx(np.sqrt(2))
    assert single.interval[0] == pytest.approx(3 - 12.7062 * np.sqrt(2) / np.sqrt(2), rel=1e-4)
    assert "95% CI" in res.table() and "| seed |" in res.to_markdown()
    # the training function sees each seed after seed_everything
    draws = diagnose.multi_seed(lambda s: float(cr.rand(1).item()), [5, 5]).metrics["metric"]
    assert draws[0] == draws[1]
    with pytest.raises(TypeError, match="must return"):
        diagnose.multi_seed(lambda s: "x", [1])


def test_multi_seed_plot() -> None:
    pytest.importorskip("matplotlib")
    res = diagnose.multi_seed(lambda s: {"loss": [3.0, 2.0, s * 0.1]}, 3)
    assert res.plot().axes


def test_layer_attributions_summary() -> None:
    from _diag_nets import ReLU, mlp

    model = mlp([5, 8, 3], ReLU)
    x = cr.randn(4, 5)
    rows = diagnose.layer_attributions(model, x, target=1)
    assert [r["layer"] for r in rows] == ["0", "1", "2"]
    assert max(r["share"] for r in rows) == 1.0 and rows[-1]["shape"] == (4, 3)
    # the last layer's gradient × activation is exactly the score (∂score/∂out is one-hot)
    with cr.no_grad():
        score = float(model(x)[:, 1].sum())
    assert rows[-1]["sum"] == pytest.approx(score, rel=1e-5)
