"""Transformer layers with torch's structure, state_dict keys, masks and defaults.

``TransformerEncoderLayer``/``TransformerDecoderLayer`` (post-norm by default, ``norm_first`` for
pre-norm), the stacks ``TransformerEncoder``/``TransformerDecoder`` (deep copies of one layer, as
torch's ``_get_clones``) and the full ``Transformer``. Attention runs as one fused node per call.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..._random import rng
from ..._tensor import Tensor, _make
from ...ops import _registry
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = [
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]


def _F() -> Any:
    from .. import functional

    return functional


def _get_activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return _F().relu
    if activation == "gelu":
        return _F().gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _generate_square_subsequent_mask(sz: int, dtype: Any = None) -> Tensor:
    """(sz, sz) float mask: 0 on and below the diagonal, −inf above (future positions)."""
    from ... import float32

    npdt = getattr(dtype or float32, "np", np.float32)
    mask = np.triu(np.full((sz, sz), -np.inf, dtype=npdt), k=1)
    return _make(mask)


def _detect_is_causal_mask(mask: Any, is_causal: bool | None, size: int | None) -> bool:
    """torch's rule: an explicit is_causal wins; else a mask equal to the causal one counts."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        causal = np.triu(np.full((sz, sz), -np.inf), k=1)
        m = np.asarray(getattr(mask, "_data", mask))
        make_causal = m.shape == causal.shape and bool(np.array_equal(m, causal))
    return make_causal


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: construction, attention and FF blocks.

    The decoder (``_cross_attention``) adds ``multihead_attn`` and a third norm/dropout;
    submodules are registered in torch's order so state_dict keys and reprs match.
    """

    _cross_attention = False

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        from .activation import MultiheadAttention

        super().__init__()
        kw = {"dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw
        )
        if self._cross_attention:
            self.multihead_attn = MultiheadAttention(
                d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw
            )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        n = 3 if self._cross_attention else 2
        for i in range(1, n + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, n + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        if not self._cross_attention:
            self.activation_relu_or_gelu = _relu_or_gelu_flag(activation)
        self.activation = activation

    @staticmethod
    def _attend(
        attn: Module, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> Tensor:
        return attn(
            x,
            mem,
            mem,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool):
        return self.dropout1(
            self._attend(self.self_attn, x, x, attn_mask, key_padding_mask, is_causal)
        )

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        # the FF block's dropout is the last of the numbered ones (dropout2 / dropout3)
        return (self.dropout3 if self._cross_attention else self.dropout2)(x)


def _relu_or_gelu_flag(activation: Any) -> int:
    """torch's flag for its fused path: 1 = relu, 2 = gelu, 0 = anything else."""
    from .activation import GELU, ReLU

    F = _F()
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    if activation is F.gelu or isinstance(activation, GELU):
        return 2
    return 0


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention + feed-forward block: x = norm1(x + SA(x)); x = norm2(x + FF(x)).

    With ``norm_first``: x = x + SA(norm1(x)); x = x + FF(norm2(x)).
    Args: d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu' ('gelu' or a
    callable), layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True.
    Shape: src (S, N, E) (or (N, S, E) with batch_first, or unbatched (S, E)) → same.
    """

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """Run the block on ``src`` (masks as in MultiheadAttention)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention over ``memory``, then feed-forward (post-norm default).

    Args: as ``TransformerEncoderLayer``.
    Shape: tgt (T, N, E), memory (S, N, E) (batch first with ``batch_first``) → (T, N, E).
    """

    _cross_attention = True

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Run the block on ``tgt`` attending to ``memory``."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(
                x
                + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            )
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(
        self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ):
        return self.dropout2(
            self._attend(self.multihead_attn, x, mem, attn_mask, key_padding_mask, is_causal)
        )


def _init_stack(stack: Module, layer: Module, num_layers: int, norm: Module | None) -> None:
    """The encoder/decoder stack's ``layers`` (deep copies of ``layer``), num_layers, norm."""
    if not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(f"num_layers must be a non-negative integer, got {num_layers!r}")
    stack.layers = _get_clones(layer, num_layers)
    stack.num_layers = num_layers
    stack.norm = norm


def _seq_len(stack: Module, x: Tensor) -> int:
    """The sequence length of a stack's input (batch_first as its first layer's attention)."""
    if x.dim() == 2:
        return x.shape[0]
    return x.shape[1 if stack.layers and stack.layers[0].self_attn.batch_first else 0]


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer`` (keys ``layers.{i}.…``), then
    an optional ``norm``.
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        _init_stack(self, encoder_layer, num_layers, norm)
        self.enable_nested_tensor = enable_nested_tensor
        # torch's rule for when its nested-tensor path can run (see ``forward``); torch also
        # warns when it cannot, which says nothing about chainrule, so no warning here.
        layer = encoder_layer
        self.use_nested_tensor = bool(
            enable_nested_tensor
            and isinstance(layer, TransformerEncoderLayer)
            and not layer.norm_first
            and layer.self_attn.batch_first
            and layer.self_attn._qkv_same_embed_dim
            and layer.self_attn.in_proj_bias is not None
            and layer.activation_relu_or_gelu
            and layer.norm1.eps == layer.norm2.eps
            and layer.self_attn.num_heads % 2 == 0
        )
        self.mask_check = mask_check

    def _nested_path(self, src: Tensor, mask: Any, kpm: Any) -> np.ndarray | None:
        """The padded positions torch's nested-tensor path would zero, or None when torch
        would take the ordinary path (same conditions as torch's ``TransformerEncoder``)."""
        from ...autograd.grad_mode import state

        if not self.use_nested_tensor or not self.layers or self.layers[0].training:
            return None
        if src.dim() != 3 or kpm is None or mask is not None:
            return None
        pad = np.asarray(getattr(kpm, "_data", kpm))
        pad = pad if pad.dtype == np.bool_ else pad != 0
        # mask_check: rows must be left aligned (real tokens, then padding)
        if self.mask_check and np.any(pad[:, :-1] & ~pad[:, 1:]):
            return None
        first = self.layers[0]
        tensors = [src, *first.parameters()]
        # An ONNX trace records with grad on, but what it exports is the inference graph.
        tracing = _registry._tracer is not None
        if not tracing and state.enabled and any(t.requires_grad for t in tensors):
            return None
        return pad

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        """Pass ``src`` through every layer in turn (and the final norm)."""
        seq_len = _seq_len(self, src)
        causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        pad = self._nested_path(src, mask, src_key_padding_mask)
        output = src
        for mod in self.layers:
            output = mod(
                output, src_mask=mask, is_causal=causal, src_key_padding_mask=src_key_padding_mask
            )
        if pad is not None:
            # torch runs inference (eval, no grad, batch_first, padding mask) on nested tensors
            # and pads the result with zeros: padded positions come out as 0 before the norm.
            # Built from the mask with ops so an ONNX export keeps it as a graph input.
            kpm = src_key_padding_mask
            kpm = kpm if isinstance(kpm, Tensor) else _make(np.asarray(kpm))
            padded = kpm if kpm._data.dtype == np.bool_ else kpm != 0
            # where, not a product: a fully padded sequence comes out of attention as NaN
            # (torch's MHA fast path), and NaN * 0 would keep it; torch never computes it
            from ..._api import where

            output = where(padded.unsqueeze(-1), 0.0, output)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` deep copies of ``decoder_layer``, then an optional ``norm``."""

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        _init_stack(self, decoder_layer, num_layers, norm)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Pass ``tgt`` through every layer, each attending to ``memory``."""
        seq_len = _seq_len(self, tgt)
        causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        output = tgt
        for mod in self.layers:
            output = mod(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """Encoder-decoder transformer ("Attention Is All You Need"), torch's layout and keys.

    Args: d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation='relu', custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True.
    Every weight matrix starts from xavier_uniform_, as torch's ``_reset_parameters``.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(*args, dtype=dtype)
            enc_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, enc_norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            dlayer = TransformerDecoderLayer(*args, dtype=dtype)
            dec_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(dlayer, num_decoder_layers, dec_norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        # xavier_uniform_ on every parameter with more than one dim: U(±√(6 / (fan_in+fan_out)))
        for p in self.parameters():
            if p.dim() > 1:
                receptive = math.prod(p.shape[2:]) if p.dim() > 2 else 1
                fan_in, fan_out = p.shape[1] * receptive, p.shape[0] * receptive
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                p._data[...] = rng(None).uniform(-bound, bound, p.shape)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Encode ``src`` and decode ``tgt`` against it."""
        is_batched = src.dim() == 3
        if not self.batch_first and is_batched and src.shape[1] != tgt.shape[1]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if self.batch_first and is_batched and src.shape[0] != tgt.shape[0]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """(sz, sz) float mask with −inf above the diagonal (no attending to the future)."""
        return _generate_square_subsequent_mask(sz, dtype)
