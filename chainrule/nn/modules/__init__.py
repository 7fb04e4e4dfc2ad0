"""All layers, under PyTorch's names and module paths (``modules.linear.Linear`` …).

Classes load on first use (PEP 562) so ``import chainrule.nn`` stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .container import ModuleDict as ModuleDict
from .container import ModuleList as ModuleList
from .container import ParameterDict as ParameterDict
from .container import ParameterList as ParameterList
from .container import Sequential as Sequential
from .module import Module as Module

# name -> submodule of chainrule.nn.modules that defines it (torch's layout).
_LAZY: dict[str, str] = {
    # linear.py
    "Identity": "linear",
    "Linear": "linear",
    "Bilinear": "linear",
    # activation.py
    "ReLU": "activation",
    "ReLU6": "activation",
    "LeakyReLU": "activation",
    "ELU": "activation",
    "SELU": "activation",
    "CELU": "activation",
    "GELU": "activation",
    "SiLU": "activation",
    "Mish": "activation",
    "Sigmoid": "activation",
    "Tanh": "activation",
    "Softplus": "activation",
    "Softsign": "activation",
    "Softmax": "activation",
    "LogSoftmax": "activation",
    "LogSigmoid": "activation",
    "Hardtanh": "activation",
    "Hardswish": "activation",
    "Hardsigmoid": "activation",
    "Tanhshrink": "activation",
    "Hardshrink": "activation",
    "Softshrink": "activation",
    "PReLU": "activation",
    "Threshold": "activation",
    "GLU": "activation",
    "Softmin": "activation",
    "MultiheadAttention": "activation",
    # loss.py
    "MSELoss": "loss",
    "L1Loss": "loss",
    "SmoothL1Loss": "loss",
    "HuberLoss": "loss",
    "CrossEntropyLoss": "loss",
    "NLLLoss": "loss",
    "BCELoss": "loss",
    "BCEWithLogitsLoss": "loss",
    "KLDivLoss": "loss",
    # batchnorm.py / normalization.py
    "BatchNorm1d": "batchnorm",
    "BatchNorm2d": "batchnorm",
    "BatchNorm3d": "batchnorm",
    "LayerNorm": "normalization",
    "GroupNorm": "normalization",
    "RMSNorm": "normalization",
    # dropout.py, sparse.py, flatten.py
    "Dropout": "dropout",
    "Dropout1d": "dropout",
    "Dropout2d": "dropout",
    "AlphaDropout": "dropout",
    "Embedding": "sparse",
    "Flatten": "flatten",
    "Unflatten": "flatten",
    # padding.py, distance.py, pixelshuffle.py, upsampling.py, instancenorm.py, more losses
    "ConstantPad1d": "padding",
    "ConstantPad2d": "padding",
    "ConstantPad3d": "padding",
    "ZeroPad1d": "padding",
    "ZeroPad2d": "padding",
    "ZeroPad3d": "padding",
    "ReflectionPad1d": "padding",
    "ReflectionPad2d": "padding",
    "ReflectionPad3d": "padding",
    "ReplicationPad1d": "padding",
    "ReplicationPad2d": "padding",
    "ReplicationPad3d": "padding",
    "CircularPad1d": "padding",
    "CircularPad2d": "padding",
    "CircularPad3d": "padding",
    "PairwiseDistance": "distance",
    "CosineSimilarity": "distance",
    "PixelShuffle": "pixelshuffle",
    "PixelUnshuffle": "pixelshuffle",
    "Upsample": "upsampling",
    "UpsamplingNearest2d": "upsampling",
    "UpsamplingBilinear2d": "upsampling",
    "InstanceNorm1d": "instancenorm",
    "InstanceNorm2d": "instancenorm",
    "InstanceNorm3d": "instancenorm",
    "MarginRankingLoss": "_loss_extra",
    "TripletMarginLoss": "_loss_extra",
    "CosineEmbeddingLoss": "_loss_extra",
    "HingeEmbeddingLoss": "_loss_extra",
    "SoftMarginLoss": "_loss_extra",
    "MultiLabelSoftMarginLoss": "_loss_extra",
    "GaussianNLLLoss": "_loss_extra",
    "PoissonNLLLoss": "_loss_extra",
    # conv.py, pooling.py, rnn.py, transformer.py (the conv/rnn layers)
    "Conv1d": "conv",
    "Conv2d": "conv",
    "ConvTranspose2d": "conv",
    "MaxPool1d": "pooling",
    "MaxPool2d": "pooling",
    "AvgPool1d": "pooling",
    "AvgPool2d": "pooling",
    "AdaptiveAvgPool2d": "pooling",
    "AdaptiveAvgPool1d": "pooling",
    "AdaptiveMaxPool1d": "pooling",
    "AdaptiveMaxPool2d": "pooling",
    "ConvTranspose1d": "conv",
    "RNNBase": "rnn",
    "RNN": "rnn",
    "LSTM": "rnn",
    "GRU": "rnn",
    "RNNCellBase": "rnn",
    "RNNCell": "rnn",
    "LSTMCell": "rnn",
    "GRUCell": "rnn",
    "TransformerEncoderLayer": "transformer",
    "TransformerEncoder": "transformer",
    "TransformerDecoderLayer": "transformer",
    "TransformerDecoder": "transformer",
    "Transformer": "transformer",
}

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]
__all__ += list(_LAZY)


def __getattr__(name: str) -> Any:
    sub = _LAZY.get(name)
    if sub is None:
        # submodules by path, as in torch: chainrule.nn.modules.sparse.Embedding
        if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'chainrule.nn.modules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{sub}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
