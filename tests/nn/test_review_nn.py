"""Regression tests for differences from PyTorch 2.13 found reviewing chainrule.nn."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_all_targets_ignored_mean_is_nan_with_zero_grad(fn, smoothing):
    # torch: the mean over no targets is nan, but the ignored rows' gradient is 0 (not nan)
    x = cr.randn(4, 5, requires_grad=True)
    kw = {"label_smoothing": smoothing} if fn == "cross_entropy" else {}
    if fn == "nll_loss" and smoothing:
        pytest.skip("nll_loss has no label smoothing")
    loss = getattr(F, fn)(x, cr.tensor(np.full(4, 3)), ignore_index=3, **kw)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 5), np.float32))


def test_partially_ignored_rows_get_zero_grad_with_weights():
    torch = pytest.importorskip("torch")
    xn = np.random.RandomState(0).randn(4, 5).astype(np.float32)
    t = np.array([1, 2, 2, 0])
    w = np.array([0.5, 1.0, 2.0, 1.5, 1.0], np.float32)
    x = cr.tensor(xn, requires_grad=True)
    F.cross_entropy(x, cr.tensor(t), weight=cr.tensor(w), ignore_index=2).backward()
    xt = torch.tensor(xn, requires_grad=True)
    torch.nn.functional.cross_entropy(
        xt, torch.tensor(t), weight=torch.tensor(w), ignore_index=2
    ).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_batchnorm_channel_mismatch_is_runtime_error():
    # torch: RuntimeError("running_mean should contain 4 elements not 3")
    with pytest.raises(RuntimeError, match="4 channels"):
        nn.BatchNorm1d(3)(cr.randn(5, 4))


def test_init_bad_ranges_raise_runtime_error():
    # torch: RuntimeError for from > to and for std < 0 (numpy's ValueError leaked before)
    with pytest.raises(RuntimeError, match="from=2"):
        nn.init.uniform_(cr.empty(3), a=2.0, b=1.0)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        nn.init.normal_(cr.empty(3), std=-1.0)


@pytest.mark.parametrize(("a", "b"), [(5.0, 6.0), (-30.0, -10.0)])
def test_trunc_normal_far_tail_terminates_inside_bounds(a, b):
    # [a, b] with (almost) no normal mass: redrawing never finished; torch inverts the CDF
    x = nn.init.trunc_normal_(cr.empty(500), mean=0.0, std=1.0, a=a, b=b).numpy()
    assert x.min() >= a and x.max() <= b
    # most of the truncated mass sits next to the bound nearest the mean
    near = a if a > 0 else b
    assert np.median(np.abs(x - near)) < 0.3


def test_cosine_similarity_clamps_each_norm_like_torch():
    torch = pytest.importorskip("torch")
    # zero rows and rows below eps: torch clamps ‖x1‖ and ‖x2‖ separately (not their product)
    an = np.array([[0.0, 0.0, 0.0], [1e-5, 0.0, 0.0], [0.3, -1.0, 2.0]], np.float32)
    bn = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.5, 0.1, 0.0]], np.float32)
    a = cr.tensor(an, requires_grad=True)
    out = F.cosine_similarity(a, cr.tensor(bn), eps=1e-3)
    out.sum().backward()
    at = torch.tensor(an, requires_grad=True)
    ref = torch.nn.functional.cosine_similarity(at, torch.tensor(bn), eps=1e-3)
    ref.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy(), rtol=1e-4)


def test_functional_conv_padding_string_errors_are_runtime_errors():
    x, w = cr.ones(1, 1, 5, 5), cr.ones(1, 1, 3, 3)
    with pytest.raises(RuntimeError, match="strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match="Invalid padding string"):
        F.conv2d(x, w, padding="full")


def test_norm_layers_reject_mixed_dtypes_like_torch():
    # torch: "mixed dtype (CPU): all inputs must share same datatype" (no silent promotion)
    x = cr.randn(3, 2, 5, dtype=cr.float64)
    for layer in (nn.BatchNorm1d(2), nn.BatchNorm1d(2).eval(), nn.GroupNorm(1, 2), nn.LayerNorm(5)):
        with pytest.raises(RuntimeError, match="mixed dtype"):
            layer(x)
    assert nn.LayerNorm(5).double()(x).dtype == cr.float64
    assert F.layer_norm(x, (5,)).dtype == cr.float64


def test_rnn_input_dtype_mismatch_is_value_error():
    with pytest.raises(ValueError, match="float64"):
        nn.LSTM(4, 5)(cr.randn(3, 2, 4, dtype=cr.float64))
    with pytest.raises(RuntimeError):
        nn.GRUCell(4, 5)(cr.randn(2, 4, dtype=cr.float64))


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_over_an_empty_dim_is_empty(fn):
    # torch returns an empty tensor; NumPy's max over a zero-size axis used to raise ValueError
    assert tuple(fn(cr.randn(0, 3), 0).shape) == (0, 3)
    assert tuple(fn(cr.randn(2, 0), 1).shape) == (2, 0)


@pytest.mark.parametrize(
    "fn",
    [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.kl_div, F.binary_cross_entropy_with_logits],
)
def test_regression_loss_promotes_to_a_float64_target_like_torch(fn):
    # torch: float32 output with a float64 target gives a float64 loss, float32 gradient
    x = cr.rand(3, requires_grad=True)
    kw = {"reduction": "sum"} if fn is F.kl_div else {}
    loss = fn(x, cr.rand(3, dtype=cr.float64), **kw)
    assert loss.dtype == cr.float64
    loss.backward()
    assert x.grad.dtype == cr.float32


def test_cross_entropy_loss_bad_label_smoothing_raises_runtime_error_in_forward():
    loss = nn.CrossEntropyLoss(label_smoothing=1.5)  # torch constructs it
    with pytest.raises(RuntimeError, match="label_smoothing"):
        loss(cr.randn(3, 4), cr.tensor([0, 1, 2]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(3, 4, 3, stride=0),
        lambda: nn.Conv2d(3, 4, 3, padding=-1),
        lambda: nn.Conv2d(3, 4, 3, dilation=0),
        lambda: nn.MaxPool2d(0),
        lambda: nn.Linear(3, -1),
        lambda: nn.LayerNorm(-1),
        lambda: nn.Embedding(5, -1),
        lambda: nn.HuberLoss(delta=0.0),
        lambda: nn.SmoothL1Loss(beta=-1.0),
    ],
)
def test_bad_layer_arguments_raise_torchs_runtime_error_type_too(make):
    # rejected at construction, as a ValueError that is also the RuntimeError torch raises
    with pytest.raises(RuntimeError):
        make()
    with pytest.raises(ValueError):
        make()


def test_bce_target_gradient_uses_unclamped_logs():
    # torch clamps the loss's logs at -100 but not the target gradient: ±inf at x = 0 or 1
    x = cr.tensor([0.0, 1.0, 0.25])
    t = cr.tensor([1.0, 0.0, 0.5], requires_grad=True)
    F.binary_cross_entropy(x, t, reduction="sum").backward()
    g = t.grad.numpy()
    assert g[0] == np.inf and g[1] == -np.inf
    np.testing.assert_allclose(g[2], np.log(0.75) - np.log(0.25), rtol=1e-6)


def test_poisson_nll_full_differentiates_the_stirling_term_in_the_target():
    torch = pytest.importorskip("torch")
    xn = np.array([0.5, 1.5, 2.0], np.float32)
    tn = np.array([0.5, 2.0, 3.0], np.float32)
    t = cr.tensor(tn, requires_grad=True)
    F.poisson_nll_loss(cr.tensor(xn), t, log_input=False, full=True).backward()
    tt = torch.tensor(tn, requires_grad=True)
    torch.nn.functional.poisson_nll_loss(
        torch.tensor(xn), tt, log_input=False, full=True
    ).backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
def test_rnn_empty_sequence_raises_like_torch(batch_first):
    x = cr.randn(2, 0, 4) if batch_first else cr.randn(0, 2, 4)
    with pytest.raises(RuntimeError, match="sequence length"):
        nn.GRU(4, 5, batch_first=batch_first)(x)
    with pytest.raises(RuntimeError, match="sequence length"):
        nn.LSTM(4, 5)(cr.randn(0, 4))


def test_parameter_dict_repr_names_legacy_tensor_types_like_torch():
    pd = nn.ParameterDict(
        {"a": nn.Parameter(cr.ones(2, 3)), "b": nn.Parameter(cr.ones(2, dtype=cr.float64))}
    )
    assert repr(pd) == (
        "ParameterDict(\n"
        "    (a): Parameter containing: [torch.FloatTensor of size 2x3]\n"
        "    (b): Parameter containing: [torch.DoubleTensor of size 2]\n"
        ")"
    )
    pl = nn.ParameterList([nn.Parameter(cr.ones(2))])
    assert "[torch.float32 of size 2]" in repr(pl)
