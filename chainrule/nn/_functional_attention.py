"""``F.multi_head_attention_forward``: torch's multi-head attention on sequence-first inputs.

Kept apart from the module classes so ``nn.functional`` can import it without importing layers.
The attention itself is one fused node (``ops/nn/attention``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._tensor import Tensor, as_array
from ..ops.nn import attention as _att
from ._functional_conv import _dropout_keep

__all__ = ["multi_head_attention_forward"]


def _F() -> Any:
    from . import functional

    return functional


def _mask_to_float(mask: Any, dtype: np.dtype, name: str) -> Any:
    """Bool masks (True = masked out) become 0/−inf; float masks are added as they are.

    A Tensor mask is converted with tensor ops (an input of the model stays an input of an
    exported ONNX graph instead of being frozen at its example value).
    """
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        m = as_array(mask)
        if m.dtype == np.bool_:
            return np.where(m, -np.inf, 0.0).astype(dtype)
        if m.dtype.kind != "f":
            raise AssertionError(f"only bool and floating types of {name} are supported")
        return m.astype(dtype, copy=False)
    from .. import _api

    if mask._data.dtype == np.bool_:
        out = _api.where(mask, float("-inf"), 0.0)
    elif mask._data.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    else:
        out = mask
    return out if out._data.dtype == dtype else out.to(_api._dtype.from_numpy_dtype(dtype))


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on sequence-first (L, N, E) or unbatched (L, E) inputs (torch's F).

    Returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, H, L, S) when not
    averaged, or None when ``need_weights`` is False).
    """
    F = _F()
    if query.dim() not in (2, 3):
        raise AssertionError(
            f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D "
            "query tensor"
        )
    batched = query.dim() == 3
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise AssertionError(
            f"For {'batched' if batched else 'unbatched'} {query.dim()}-D `query`, expected "
            f"`key` and `value` to be {query.dim()}-D but found {key.dim()}-D and "
            f"{value.dim()}-D tensors respectively"
        )
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = as_array(key_padding_mask)[None]
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    if key.shape[:2] != value.shape[:2] or key.shape[1] != bsz:
        raise AssertionError(
            f"key shape {list(key.shape)} does not match value shape {list(value.shape)} "
            f"or query batch size {bsz}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    # torch: without a padding mask or weights to return, the is_causal hint replaces attn_mask
    # (sdpa's top-left causal mask is used, and the given mask is neither checked nor
    # differentiated)
    causal_hint = is_causal and key_padding_mask is None and not need_weights
    if causal_hint:
        attn_mask = None
    dt = query._data.dtype

    # input projections: one GEMM for self-attention, three otherwise
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if query is key and key is value:
            q, k, v = F.linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            b_q = b_k = b_v = None
            if in_proj_bias is not None:
                b_q, b_k, b_v = in_proj_bias.chunk(3)
            if key is value:
                q = F.linear(query, w_q, b_q)
                k, v = F.linear(
                    key,
                    in_proj_weight[embed_dim:],
                    None if in_proj_bias is None else in_proj_bias[embed_dim:],
                ).chunk(2, dim=-1)
            else:
                q = F.linear(query, w_q, b_q)
                k = F.linear(key, w_k, b_k)
                v = F.linear(value, w_v, b_v)
    else:
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q = F.linear(query, q_proj_weight, b_q)
        k = F.linear(key, k_proj_weight, b_k)
        v = F.linear(value, v_proj_weight, b_v)

    # masks as one additive float array broadcastable to (N, H, L, S)
    mask = _mask_to_float(attn_mask, dt, "attn_mask")
    if mask is not None:
        if mask.ndim == 2:
            if mask.shape != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {list(mask.shape)}, but should be "
                    f"{[tgt_len, src_len]}."
                )
        elif mask.ndim == 3:
            if mask.shape != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {list(mask.shape)}, but should be "
                    f"{[bsz * num_heads, tgt_len, src_len]}."
                )
            mask = mask.reshape(bsz, num_heads, tgt_len, src_len)
        else:
            raise RuntimeError(f"attn_mask's dimension {mask.ndim} is not supported")
    kpm = _mask_to_float(key_padding_mask, dt, "key_padding_mask")
    if kpm is not None and kpm.shape != (bsz, src_len):
        raise AssertionError(
            f"expecting key_padding_mask shape of {(bsz, src_len)}, but got {kpm.shape}"
        )

    if bias_k is not None and bias_v is not None:
        k = _cat_seq(k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim))
        v = _cat_seq(v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim))
        mask = _pad_key(mask)
        kpm = np.pad(kpm, [(0, 0), (0, 1)]) if kpm is not None else None

    # heads: (L, N, E) -> (N, H, L, hd)
    q = q.reshape(tgt_len, bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    else:
        k = static_k.reshape(bsz, num_heads, static_k.shape[1], head_dim)
    if static_v is None:
        v = v.reshape(v.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    else:
        v = static_v.reshape(bsz, num_heads, static_v.shape[1], head_dim)
    if add_zero_attn:
        zeros = np.zeros((bsz, num_heads, 1, head_dim), dtype=dt)
        k = _cat_dim2(k, zeros)
        v = _cat_dim2(v, zeros)
        mask = _pad_key(mask)
        kpm = np.pad(kpm, [(0, 0), (0, 1)]) if kpm is not None else None
    src = k.shape[2]
    if causal_hint:  # over every key, the bias_k / zero ones included (as torch's sdpa)
        mask = np.where(np.triu(np.ones((tgt_len, src), dtype=bool), 1), -np.inf, 0.0).astype(dt)
    if kpm is not None:
        kpm4 = kpm.reshape(bsz, 1, 1, src)
        mask = kpm4 if mask is None else mask + kpm4

    p = dropout_p if training else 0.0
    keep = _dropout_keep((bsz, num_heads, tgt_len, src), p, dt) if p > 0.0 else None
    scale = 1.0 / math.sqrt(head_dim)
    if need_weights:
        out, weights = _att.attention_with_weights(q, k, v, mask, scale=scale, keep=keep)
    else:
        out = _att.sdpa(q, k, v, mask, scale=scale, keep=keep)
        weights = None
    # (N, H, L, hd) -> (L, N, E)
    out = out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim)
    out = F.linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights


def _pad_key(mask: Any) -> Any:
    """One more (unmasked) key column for bias_k / the zero key; a Tensor mask stays in the
    graph (np.pad would cut a float mask that requires grad off from its gradient)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        return _F().pad(mask, (0, 1))
    return np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


def _cat_seq(a: Tensor, b: Tensor) -> Tensor:
    from .. import cat

    return cat([a, b], dim=0)


def _cat_dim2(a: Tensor, b: np.ndarray) -> Tensor:
    from .. import cat
    from .._tensor import _make

    return cat([a, _make(b)], dim=2)
