"""ONNX export of every layer and activation in API.md, run in onnxruntime vs chainrule."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _roundtrip import roundtrip  # noqa: E402


def _ids(n: int, *shape: int) -> cr.Tensor:
    return cr.tensor(np.random.default_rng(0).integers(0, n, size=shape))


def _warm_bn(layer: nn.Module, shape: tuple) -> nn.Module:
    """Give batch-norm layers non-trivial running statistics and affine parameters."""
    layer.train()
    for _ in range(3):
        layer(cr.randn(*shape) * 2 + 0.5)
    with cr.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-0.5, 0.5)
    return layer


# name -> (factory, example input); every layer is compared at its traced batch and at 3.
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[], cr.Tensor]]] = {
    "Linear": (lambda: nn.Linear(6, 4), lambda: cr.randn(2, 6)),
    "Linear_nobias": (lambda: nn.Linear(6, 4, bias=False), lambda: cr.randn(2, 6)),
    "Linear_3d": (lambda: nn.Linear(6, 4), lambda: cr.randn(2, 5, 6)),
    "Bilinear": (lambda: nn.Sequential(nn.Linear(6, 6)), lambda: cr.randn(2, 6)),
    "Identity": (lambda: nn.Sequential(nn.Identity(), nn.Linear(3, 2)), lambda: cr.randn(2, 3)),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3), lambda: cr.randn(2, 3, 10)),
    "Conv1d_options": (
        lambda: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False),
        lambda: cr.randn(2, 4, 11),
    ),
    "Conv1d_same_reflect": (
        lambda: nn.Conv1d(3, 3, 4, padding="same", padding_mode="reflect"),
        lambda: cr.randn(2, 3, 9),
    ),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3), lambda: cr.randn(2, 3, 8, 8)),
    "Conv2d_options": (
        lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
        lambda: cr.randn(2, 4, 9, 8),
    ),
    "Conv2d_same": (lambda: nn.Conv2d(3, 4, 4, padding="same"), lambda: cr.randn(2, 3, 7, 7)),
    "Conv2d_circular": (
        lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
        lambda: cr.randn(2, 2, 6, 5),
    ),
    "Conv2d_replicate": (
        lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"),
        lambda: cr.randn(2, 2, 6, 5),
    ),
    "Conv2d_depthwise": (lambda: nn.Conv2d(4, 8, 3, groups=4), lambda: cr.randn(2, 4, 6, 6)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 4, 3), lambda: cr.randn(2, 3, 5, 5)),
    "ConvTranspose2d_options": (
        lambda: nn.ConvTranspose2d(
            4,
            6,
            (3, 2),
            stride=(2, 3),
            padding=(1, 0),
            output_padding=(1, 2),
            groups=2,
            dilation=(1, 2),
        ),
        lambda: cr.randn(2, 4, 5, 4),
    ),
    "MaxPool1d": (lambda: nn.MaxPool1d(3, stride=2, padding=1), lambda: cr.randn(2, 3, 10)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), lambda: cr.randn(2, 3, 8, 8)),
    "MaxPool2d_options": (
        lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2),
        lambda: cr.randn(2, 3, 9, 9),
    ),
    "MaxPool2d_ceil": (
        lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True),
        lambda: cr.randn(2, 3, 8, 8),
    ),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=2, padding=1), lambda: cr.randn(2, 3, 10)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), lambda: cr.randn(2, 3, 8, 8)),
    "AvgPool2d_options": (
        lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        lambda: cr.randn(2, 3, 9, 9),
    ),
    "AvgPool2d_divisor": (
        lambda: nn.AvgPool2d(2, divisor_override=3),
        lambda: cr.randn(2, 3, 8, 8),
    ),
    "AdaptiveAvgPool2d_1": (lambda: nn.AdaptiveAvgPool2d(1), lambda: cr.randn(2, 3, 7, 5)),
    "AdaptiveAvgPool2d_uneven": (
        lambda: nn.AdaptiveAvgPool2d((3, 2)),
        lambda: cr.randn(2, 3, 7, 5),
    ),
    "Flatten": (lambda: nn.Flatten(), lambda: cr.randn(2, 3, 4, 2)),
    "Unflatten": (lambda: nn.Unflatten(1, (3, 4)), lambda: cr.randn(2, 12)),
    "Dropout": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), lambda: cr.randn(2, 4)),
    "BatchNorm1d": (lambda: _warm_bn(nn.BatchNorm1d(4), (8, 4)), lambda: cr.randn(2, 4)),
    "BatchNorm1d_3d": (lambda: _warm_bn(nn.BatchNorm1d(4), (8, 4, 5)), lambda: cr.randn(2, 4, 5)),
    "BatchNorm2d": (
        lambda: _warm_bn(nn.BatchNorm2d(3), (8, 3, 4, 4)),
        lambda: cr.randn(2, 3, 4, 4),
    ),
    "BatchNorm2d_no_stats": (
        lambda: nn.BatchNorm2d(3, track_running_stats=False),
        lambda: cr.randn(4, 3, 4, 4),
    ),
    "LayerNorm": (lambda: nn.LayerNorm(6), lambda: cr.randn(2, 5, 6)),
    "LayerNorm_2d_noaffine": (
        lambda: nn.LayerNorm((5, 6), elementwise_affine=False, eps=1e-3),
        lambda: cr.randn(2, 5, 6),
    ),
    "GroupNorm": (lambda: nn.GroupNorm(2, 6), lambda: cr.randn(2, 6, 4, 3)),
    "GroupNorm_noaffine": (lambda: nn.GroupNorm(3, 6, affine=False), lambda: cr.randn(2, 6, 5)),
    "Embedding": (lambda: nn.Embedding(10, 4), lambda: _ids(10, 2, 5)),
    "BatchNorm3d": (
        lambda: _warm_bn(nn.BatchNorm3d(2), (4, 2, 3, 3, 3)),
        lambda: cr.randn(2, 2, 3, 3, 3),
    ),
    "ConvTranspose1d": (
        lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1),
        lambda: cr.randn(2, 3, 6),
    ),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(3), lambda: cr.randn(2, 3, 7)),
    "AdaptiveMaxPool1d": (lambda: nn.AdaptiveMaxPool1d(3), lambda: cr.randn(2, 3, 7)),
    "Dropout1d": (lambda: nn.Dropout1d(0.5), lambda: cr.randn(2, 3, 4)),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), lambda: cr.randn(2, 3, 4, 4)),
    "AlphaDropout": (lambda: nn.AlphaDropout(0.5), lambda: cr.randn(2, 3)),
    "Embedding_padding": (lambda: nn.Embedding(10, 4, padding_idx=0), lambda: _ids(10, 3)),
}

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "ReLU": lambda: nn.ReLU(),
    "ReLU6": lambda: nn.ReLU6(),
    "LeakyReLU": lambda: nn.LeakyReLU(0.2),
    "ELU": lambda: nn.ELU(alpha=0.7),
    "SELU": lambda: nn.SELU(),
    "CELU": lambda: nn.CELU(alpha=1.3),
    "GELU": lambda: nn.GELU(),
    "GELU_tanh": lambda: nn.GELU(approximate="tanh"),
    "SiLU": lambda: nn.SiLU(),
    "Mish": lambda: nn.Mish(),
    "Sigmoid": lambda: nn.Sigmoid(),
    "Tanh": lambda: nn.Tanh(),
    "Softplus": lambda: nn.Softplus(),
    "Softplus_beta": lambda: nn.Softplus(beta=2.0, threshold=1.0),
    "Softsign": lambda: nn.Softsign(),
    "Softmax": lambda: nn.Softmax(dim=1),
    "LogSoftmax": lambda: nn.LogSoftmax(dim=-1),
    "Softmin": lambda: nn.Softmin(dim=1),
    "LogSigmoid": lambda: nn.LogSigmoid(),
    "Hardtanh": lambda: nn.Hardtanh(-0.5, 0.8),
    "Hardswish": lambda: nn.Hardswish(),
    "Hardsigmoid": lambda: nn.Hardsigmoid(),
    "Tanhshrink": lambda: nn.Tanhshrink(),
    "PReLU": lambda: nn.PReLU(),
    "PReLU_channels": lambda: nn.PReLU(5),
    "Threshold": lambda: nn.Threshold(0.1, -2.0),
    "GLU": lambda: nn.GLU(),
    "Hardshrink": lambda: nn.Hardshrink(0.7),
    "Softshrink": lambda: nn.Softshrink(0.7),
}


def _build(factory: Callable) -> nn.Module:
    try:
        return factory()
    except AttributeError as e:  # pragma: no cover - a layer not in this build yet
        pytest.skip(str(e))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name: str, tmp_path) -> None:
    factory, example = LAYERS[name]
    roundtrip(_build(factory), example(), tmp_path)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name: str, tmp_path) -> None:
    x = cr.randn(2, 5, 4) * 4
    roundtrip(_build(ACTIVATIONS[name]), x, tmp_path)


def test_functional_activations_extremes(tmp_path) -> None:
    """Large |x| where a naive softplus/logsigmoid would overflow."""

    class M(nn.Module):
        def forward(self, x):
            return F.softplus(x) + F.logsigmoid(x) + F.mish(x) + F.silu(x) + F.elu(x)

    x = cr.tensor(np.array([[-100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0]], np.float32))
    roundtrip(M(), x, tmp_path)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_functional_pad_modes(mode: str, tmp_path) -> None:
    class M(nn.Module):
        def forward(self, x):
            y = F.pad(x, (2, 1, 1, 2), mode=mode)
            return y, F.pad(x[:, 0], (1, 2), mode=mode)

    roundtrip(M(), cr.randn(2, 3, 4, 5), tmp_path)


def test_negative_padding_crops(tmp_path) -> None:
    class M(nn.Module):
        def forward(self, x):
            return F.pad(x, (-1, 2, 1, -2), value=0.25)

    roundtrip(M(), cr.randn(2, 3, 6, 5), tmp_path)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("ceil_mode", [True, False])
def test_avg_pool_padding_rules(ceil_mode: bool, count_include_pad: bool, tmp_path) -> None:
    pool = nn.AvgPool2d(
        3, stride=2, padding=1, ceil_mode=ceil_mode, count_include_pad=count_include_pad
    )
    roundtrip(pool, cr.randn(2, 3, 8, 7), tmp_path)


def test_rms_norm(tmp_path) -> None:
    roundtrip(nn.RMSNorm(6), cr.randn(2, 4, 6), tmp_path)


def test_dropout_leaves_no_node(tmp_path) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.ReLU(), nn.Dropout(0.1))
    proto = roundtrip(model, cr.randn(2, 4), tmp_path)
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Identity"]


def test_functional_dropout_in_training_call_is_identity(tmp_path) -> None:
    class M(nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.5, training=True) * 0 + x

    roundtrip(M(), cr.randn(2, 3), tmp_path)
