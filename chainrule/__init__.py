"""chainrule: neural networks trained by backpropagation on NumPy, with PyTorch's API.

``import chainrule as cr`` gives tensors, autograd and the math; ``cr.nn``, ``cr.optim``,
``cr.data`` … load on first use so that importing stays fast.
"""

from __future__ import annotations

import builtins as _builtins
import importlib
from typing import Any

from . import _methods as _methods  # binds Tensor methods
from . import autograd as autograd
from ._api import *  # noqa: F403
from ._api import return_types as return_types
from ._compat import *  # noqa: F403 - more of torch's functions for ported scripts
from ._device import accelerator as accelerator
from ._device import backends as backends
from ._device import cuda as cuda
from ._device import device as device
from ._dtype import bfloat16 as bfloat16
from ._dtype import bool as bool  # noqa: A004
from ._dtype import dtype as dtype
from ._dtype import float16 as float16
from ._dtype import float32 as float32
from ._dtype import float64 as float64
from ._dtype import get_default_dtype as get_default_dtype
from ._dtype import int8 as int8
from ._dtype import int16 as int16
from ._dtype import int32 as int32
from ._dtype import int64 as int64
from ._dtype import set_default_dtype as set_default_dtype
from ._dtype import uint8 as uint8
from ._memory import memory_reuse_enabled as memory_reuse_enabled
from ._memory import set_memory_reuse as set_memory_reuse
from ._random import Generator as Generator
from ._random import default_generator as default_generator
from ._random import get_rng_state as get_rng_state
from ._random import initial_seed as initial_seed
from ._random import manual_seed as manual_seed
from ._random import seed as seed
from ._random import set_rng_state as set_rng_state
from ._tensor import Tensor as Tensor
from ._tensor import as_tensor as as_tensor
from ._tensor import from_numpy as from_numpy
from ._tensor import tensor as tensor
from ._version import __version__ as __version__
from .autograd import enable_grad as enable_grad
from .autograd import inference_mode as inference_mode
from .autograd import is_grad_enabled as is_grad_enabled
from .autograd import no_grad as no_grad
from .autograd import set_grad_enabled as set_grad_enabled

float = float32  # noqa: A001 - torch.float
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

_LAZY_MODULES = {
    "nn",
    "optim",
    "data",
    "utils",
    "train",
    "diagnose",
    "onnx",
    "distributed",
    "io",
    "cli",
    "models",
    "distributions",
    "amp",
    "testing",
    "linalg",
    "special",
}
# Names that live in lazily loaded modules: name -> module.
_LAZY_NAMES = {
    "save": "chainrule.io",
    "load": "chainrule.io",
    "save_checkpoint": "chainrule.io",
    "load_checkpoint": "chainrule.io",
    "autocast": "chainrule.amp",
}


def __getattr__(name: str) -> Any:
    # PEP 562: heavy subpackages load on first use, keeping `import chainrule` fast.
    if name in _LAZY_MODULES:
        return importlib.import_module(f"chainrule.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def is_tensor(obj: Any) -> bool:
    """True if ``obj`` is a chainrule Tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """Number of elements of ``input``."""
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    """True for float tensors."""
    return input.is_floating_point()


_int = _builtins.int


def _typed_tensor(dt: Any) -> Any:
    def make(*args: Any) -> Tensor:
        if len(args) == 1 and not isinstance(args[0], _int):
            return tensor(args[0], dtype=dt)
        return zeros(*args, dtype=dt)  # noqa: F405

    return make


FloatTensor = _typed_tensor(float32)
DoubleTensor = _typed_tensor(float64)
LongTensor = _typed_tensor(int64)
IntTensor = _typed_tensor(int32)
BoolTensor = _typed_tensor(bool)
ByteTensor = _typed_tensor(uint8)
HalfTensor = _typed_tensor(float16)
