"""MultiheadAttention (torch's semantics and state_dict keys).

torch keeps ``MultiheadAttention`` in ``torch.nn.modules.activation``; ``activation.py`` re-exports
it from here. Inputs are sequence-first (L, N, E) unless ``batch_first``; an unbatched (L, E)
input is accepted as in torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._random import rng
from ..._tensor import Tensor
from .._functional_attention import multi_head_attention_forward
from ..parameter import Parameter
from .conv import _np_dtype
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear", "multi_head_attention_forward"]


class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under the name torch gives MultiheadAttention's output projection."""


def _xavier_uniform(shape: tuple, dtype: np.dtype) -> np.ndarray:
    fan_out, fan_in = shape[0], shape[1] if len(shape) > 1 else shape[0]
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng(None).uniform(-bound, bound, shape).astype(dtype)


def _xavier_normal(shape: tuple, dtype: np.dtype) -> np.ndarray:
    # torch: fans are dims 0/1 times the receptive field, so (1, 1, E) gives fan_in = fan_out = E
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return (rng(None).standard_normal(shape) * std).astype(dtype)


class MultiheadAttention(Module):
    """Multi-head attention: concat_h(softmax(Q_h K_hᵀ/√d) V_h) W_oᵀ.

    Args: embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
    kdim=None, vdim=None, batch_first=False.
    Shape: query (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)); returns
    (output like query, weights (N, L, S) or None).
    Keys: ``in_proj_weight``/``in_proj_bias`` (or ``q_proj_weight``… when kdim/vdim differ),
    ``out_proj.weight``, ``out_proj.bias``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        super().__init__()
        npdt = _np_dtype(dtype)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        e = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(_xavier_uniform((e, e), npdt))
            self.k_proj_weight = Parameter(_xavier_uniform((e, self.kdim), npdt))
            self.v_proj_weight = Parameter(_xavier_uniform((e, self.vdim), npdt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(_xavier_uniform((3 * e, e), npdt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, npdt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias._data[...] = 0.0
        if add_bias_kv:
            self.bias_k = Parameter(_xavier_normal((1, 1, e), npdt))
            self.bias_v = Parameter(_xavier_normal((1, 1, e), npdt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns (output, weights or None).

        A query row whose keys are all masked gives NaN with ``need_weights=True`` (a plain
        softmax, as torch) and zeros with ``need_weights=False`` (torch's sdpa), except where
        torch takes its inference fast path (see ``_torch_fast_path``): there, with a bool
        mask, the row is NaN as well.
        """
        if not need_weights and self._torch_fast_path(query, key, value, attn_mask,
                                                      key_padding_mask):  # fmt: skip
            # torch's _native_multi_head_attention gives NaN for fully masked rows where the
            # slow path's sdpa gives 0: the plain-softmax kernel reproduces it (weights dropped).
            return self._forward(query, key, value, key_padding_mask, True, attn_mask,
                                 average_attn_weights, is_causal)[0], None  # fmt: skip
        return self._forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                             average_attn_weights, is_causal)  # fmt: skip

    def _torch_fast_path(
        self, query: Any, key: Any, value: Any, attn_mask: Any, key_padding_mask: Any
    ) -> bool:
        """Would torch 2.13's ``MultiheadAttention.forward`` take its fast path here?

        Its conditions, in its order: bool (not float) masks, a batched self-attention call
        (query is key is value), packed in-projection with biases, eval mode, an even number of
        heads, batch_first, no bias_k/bias_v/add_zero_attn, and no gradient to record. Only a
        mask can make the fast path's result differ, so without one this answers False.
        """
        if attn_mask is None and key_padding_mask is None:
            return False
        for m in (attn_mask, key_padding_mask):
            if m is not None and np.asarray(getattr(m, "_data", m)).dtype.kind == "f":
                return False
        if query.dim() != 3 or query is not key or key is not value:
            return False
        if self.in_proj_weight is None or self.in_proj_bias is None or self.training:
            return False
        if self.num_heads % 2 or not self.batch_first or self.bias_k is not None:
            return False
        if self.add_zero_attn or not self._qkv_same_embed_dim:
            return False
        from ...autograd.grad_mode import state

        if state.enabled:
            args = (query, self.in_proj_weight, self.in_proj_bias, self.out_proj.weight,
                    self.out_proj.bias)  # fmt: skip
            if any(getattr(a, "requires_grad", False) for a in args):
                return False
        return True

    def _forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None,
        need_weights: bool,
        attn_mask: Tensor | None,
        average_attn_weights: bool,
        is_causal: bool,
    ) -> tuple[Tensor, Tensor | None]:
        batched = query.dim() == 3
        if self.batch_first and batched:
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        out, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights
