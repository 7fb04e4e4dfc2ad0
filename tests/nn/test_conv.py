"""Conv1d / Conv2d / ConvTranspose1d/2d: torch parity (values, input and parameter gradients,
float32 and float64, every option), float64 gradcheck, repr/state_dict, init, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _layer_parity import compare_layer, gradcheck_layer

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

CONV2D = [
    ((3, 4, 3), {}),
    ((4, 6, (3, 2)), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2, "bias": False}),
    ((6, 6, 3), {"stride": (1, 2), "padding": (2, 0), "groups": 3}),
    ((6, 6, 3), {"groups": 6, "padding": "valid"}),
    ((3, 4, 3), {"padding": "same", "dilation": 2}),
    ((3, 4, (4, 2)), {"padding": "same"}),
    ((3, 4, 3), {"padding": 2, "padding_mode": "reflect"}),
    ((3, 4, 3), {"padding": (1, 2), "padding_mode": "replicate"}),
    ((3, 4, 3), {"padding": 2, "padding_mode": "circular"}),
    ((3, 4, 4), {"padding": "same", "padding_mode": "reflect"}),
]


def _quiet(fn):
    # torch warns that even kernels with padding='same' copy the input; not our concern here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("args", "kw"), CONV2D)
def test_conv2d_parity(torch, args, kw, dtype):
    x = np.random.default_rng(0).standard_normal((2, args[0], 9, 8))
    _quiet(lambda: compare_layer(torch, lambda m: m.Conv2d(*args, **kw), [x], dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("args", "kw"),
    [
        ((3, 4, 3), {}),
        ((4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
        ((3, 4, 4), {"padding": "same"}),
        ((3, 2, 3), {"padding": 2, "padding_mode": "reflect", "bias": False}),
        ((3, 2, 3), {"padding": 1, "padding_mode": "circular"}),
    ],
)
def test_conv1d_parity(torch, args, kw, dtype):
    x = np.random.default_rng(1).standard_normal((2, args[0], 11))
    _quiet(lambda: compare_layer(torch, lambda m: m.Conv1d(*args, **kw), [x], dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("args", "kw"),
    [
        ((3, 4, 3), {}),
        ((4, 6, (3, 2)), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
        (
            (4, 2, 3),
            {"stride": (3, 2), "dilation": (1, 2), "output_padding": (2, 1), "bias": False},
        ),
    ],
)
def test_conv_transpose2d_parity(torch, args, kw, dtype):
    x = np.random.default_rng(2).standard_normal((2, args[0], 5, 4))
    compare_layer(torch, lambda m: m.ConvTranspose2d(*args, **kw), [x], dtype)


def test_conv_transpose1d_and_output_size(torch):
    x = np.random.default_rng(3).standard_normal((2, 4, 6))
    compare_layer(torch, lambda m: m.ConvTranspose1d(4, 3, 3, stride=2, padding=1), [x])
    x2 = np.random.default_rng(4).standard_normal((1, 4, 5, 5))
    compare_layer(
        torch,
        lambda m: m.ConvTranspose2d(4, 2, 3, stride=2, padding=1),
        [x2],
        call=lambda mod, t: mod(t, output_size=[10, 10]),
    )


def test_unbatched_input(torch):
    x = np.random.default_rng(5).standard_normal((3, 7, 6))
    compare_layer(torch, lambda m: m.Conv2d(3, 2, 3, padding=1), [x])
    compare_layer(torch, lambda m: m.Conv1d(3, 2, 3), [x[:, 0]])


def test_gradcheck_conv2d():
    x = np.random.default_rng(6).standard_normal((2, 4, 5, 6))
    gradcheck_layer(lambda m: m.Conv2d(4, 4, (3, 2), stride=(2, 1), padding=1, groups=2), [x])
    gradcheck_layer(lambda m: m.Conv2d(4, 2, 3, padding=2, padding_mode="reflect"), [x])


def test_gradcheck_conv_transpose2d():
    x = np.random.default_rng(7).standard_normal((2, 4, 3, 3))
    gradcheck_layer(
        lambda m: m.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
        [x],
    )


def test_conv1d_gradcheck():
    x = np.random.default_rng(8).standard_normal((2, 3, 7))
    gradcheck_layer(lambda m: m.Conv1d(3, 2, 3, stride=2, dilation=2), [x])


def test_repr_and_keys(torch):
    for make in [
        lambda m: m.Conv2d(3, 8, 3),
        lambda m: m.Conv2d(
            3,
            8,
            (3, 5),
            stride=2,
            padding=(1, 2),
            dilation=2,
            groups=1,
            bias=False,
            padding_mode="reflect",
        ),
        lambda m: m.Conv2d(4, 8, 3, padding="same", groups=4),
        lambda m: m.Conv1d(2, 4, 5, padding="valid"),
        lambda m: m.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1, groups=2),
        lambda m: m.ConvTranspose1d(4, 8, 3),
    ]:
        t, c = make(torch.nn), make(nn)
        assert repr(c) == repr(t)
        assert {k: tuple(v.shape) for k, v in c.state_dict().items()} == {
            k: tuple(v.shape) for k, v in t.state_dict().items()
        }


def test_init_distribution():
    cr.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w = m.weight.detach().numpy()
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    t = nn.ConvTranspose2d(8, 4, 3)  # fan_in = weight.shape[1] * k*k = 4 * 9
    assert np.abs(t.weight.detach().numpy()).max() <= 1 / np.sqrt(36)


def test_channels_last_output_feeds_next_layer():
    # conv returns a channels-last view; chaining and reshaping must still be correct
    cr.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3))
    x = cr.randn(2, 2, 6, 6)
    y = m(x)
    assert y.shape == (2, 2, 4, 4)
    flat = y.reshape(2, -1).detach().numpy()
    np.testing.assert_array_equal(flat, np.ascontiguousarray(y.detach().numpy()).reshape(2, -1))


# ---------------------------------------------------------------------------------- bad input


def test_wrong_channels_names_shapes():
    m = nn.Conv2d(3, 8, 3)
    with pytest.raises(RuntimeError, match=r"expected input\[2, 4, 8, 8\] to have 3 channels"):
        m(cr.randn(2, 4, 8, 8))


def test_too_small_input():
    with pytest.raises(RuntimeError, match=r"\(2 x 2\).*Kernel size: \(3 x 3\)"):
        nn.Conv2d(1, 1, 3)(cr.randn(1, 1, 2, 2))


def test_wrong_rank():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D.*\[2, 3\]"):
        nn.Conv2d(3, 1, 1)(cr.randn(2, 3))


def test_constructor_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(-1, 4, 3)
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(3, 4, 3, padding="full")


def test_dtype_mismatch():
    m = nn.Conv2d(2, 2, 3)
    with pytest.raises(RuntimeError, match="float64"):
        m(cr.randn(1, 2, 5, 5, dtype=cr.float64))


def test_functional_pad_modes(torch):
    x = np.random.default_rng(9).standard_normal((2, 3, 4, 5))
    for mode, pad in [
        ("reflect", (1, 2, 3, 0)),
        ("replicate", (2, 2, 1, 1)),
        ("circular", (1, 4, 2, 1)),
        ("constant", (1, -1, 2, 0)),
    ]:
        c = F.pad(cr.tensor(x), pad, mode=mode)
        t = torch.nn.functional.pad(torch.tensor(x), pad, mode=mode)
        np.testing.assert_allclose(c.numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        F.pad(cr.tensor(x), (5, 0), mode="reflect")


def test_unfold_fold(torch):
    x = np.random.default_rng(10).standard_normal((2, 3, 6, 5))
    c = F.unfold(cr.tensor(x), (2, 3), dilation=1, padding=1, stride=2)
    t = torch.nn.functional.unfold(torch.tensor(x), (2, 3), dilation=1, padding=1, stride=2)
    np.testing.assert_allclose(c.numpy(), t.numpy(), atol=1e-12)
    back_c = F.fold(c, (6, 5), (2, 3), padding=1, stride=2)
    back_t = torch.nn.functional.fold(t, (6, 5), (2, 3), padding=1, stride=2)
    np.testing.assert_allclose(back_c.numpy(), back_t.numpy(), atol=1e-12)
