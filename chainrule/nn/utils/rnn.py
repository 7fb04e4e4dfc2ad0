"""Variable-length sequences: ``pad_sequence``, ``PackedSequence`` and packing (torch.nn.utils.rnn).

A ``PackedSequence`` has torch's layout (``data`` holds step 0 of every sequence, then step 1 of
those still running …, ``batch_sizes`` counts them per step; sequences sorted by decreasing length,
``sorted_indices`` / ``unsorted_indices`` map to and from the caller's order), so code that reads
its fields works unchanged. RNN/GRU/LSTM accept one: each group of equal-length sequences runs as
one batch of exactly its length, so outputs and final states are the ones at each sequence's last
real step, in both directions, with gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..._tensor import Tensor, as_array, tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "pack_sequence",
    "unpad_sequence",
    "unpack_sequence",
]


class PackedSequence(NamedTuple):
    """Packed batch of variable-length sequences (fields as torch's)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    @property
    def is_cuda(self) -> bool:
        """False: CPU only."""
        return False

    def is_pinned(self) -> bool:
        """False."""
        return False

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)`` (a dtype or the CPU device); the index fields stay as they are."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    def cpu(self) -> PackedSequence:
        """``self``."""
        return self

    def double(self) -> PackedSequence:
        """Data as float64."""
        return self._replace(data=self.data.double())

    def float(self) -> PackedSequence:
        """Data as float32."""
        return self._replace(data=self.data.float())


def _lengths(lengths: Any) -> np.ndarray:
    arr = np.asarray(as_array(lengths) if isinstance(lengths, Tensor) else lengths)
    if arr.ndim != 1:
        raise RuntimeError(f"lengths must be a 1D tensor or list, got {arr.ndim}-D")
    return arr.astype(np.int64)


def _pack_time_major(x: Tensor, lengths_sorted: np.ndarray, order: np.ndarray) -> tuple:
    """data, batch_sizes for time-major ``x`` whose batch is reordered by ``order``."""
    max_len = int(lengths_sorted[0]) if lengths_sorted.size else 0
    batch_sizes = np.array([(lengths_sorted > t).sum() for t in range(max_len)], dtype=np.int64)
    # the rows of x (time, batch) in packed order, as one gather: differentiable and fast
    t_idx = np.concatenate([np.full(b, t) for t, b in enumerate(batch_sizes)]) if max_len else []
    b_idx = np.concatenate([order[:b] for b in batch_sizes]) if max_len else []
    data = x[(np.asarray(t_idx, np.int64), np.asarray(b_idx, np.int64))]
    return data, batch_sizes


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) given each length."""
    lens = _lengths(lengths)
    x = input.transpose(0, 1) if batch_first else input
    if lens.size != x.shape[1]:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} "
            f"(batch_size={x.shape[1]})"
        )
    if lens.size and lens.min() <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' "
            "that is <= 0"
        )
    if lens.size and lens.max() > x.shape[0]:
        raise RuntimeError(
            f"a length ({lens.max()}) is longer than the padded sequence ({x.shape[0]} steps)"
        )
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX exportability."
            )
        order = np.arange(lens.size)
        sorted_idx = unsorted_idx = None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_idx = tensor(order)
        unsorted_idx = tensor(np.argsort(order))
    data, batch_sizes = _pack_time_major(x, lens[order], order)
    return PackedSequence(data, tensor(batch_sizes), sorted_idx, unsorted_idx)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: (padded batch, lengths), in the caller's original order."""
    from ... import _api

    data = sequence.data
    bs = as_array(sequence.batch_sizes).astype(np.int64)
    max_len = len(bs)
    n = int(bs[0]) if max_len else 0
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_len}"
            )
        max_len = total_length
    lengths = np.array([(bs > b).sum() for b in range(n)], dtype=np.int64)
    # position of (t, b) in data, for the sorted batch
    offsets = np.concatenate([[0], np.cumsum(bs)])
    feat = tuple(data.shape[1:])
    pad_row = _api.full((1, *feat), padding_value, dtype=data.dtype)
    full = _api.cat([data, pad_row], 0)  # index len(data) is the padding row
    idx = np.full((max_len, n), data.shape[0], dtype=np.int64)
    for t in range(len(bs)):
        idx[t, : bs[t]] = offsets[t] + np.arange(bs[t])
    if sequence.unsorted_indices is not None:
        unsorted = as_array(sequence.unsorted_indices)
        idx = idx[:, unsorted]
        lengths = lengths[unsorted]
    padded = full[idx]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(lengths)


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padding them."""
    from ... import _api

    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        gap = max_len - s.shape[0]
        if gap:
            pad = _api.full((gap, *s.shape[1:]), padding_value, dtype=s.dtype)
            s = _api.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return _api.stack(rows, 0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length tensors (L_i, *)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(
    padded_sequences: Tensor, lengths: Any, batch_first: bool = False
) -> list[Tensor]:
    """The list of tensors of ``pad_sequence``'s result, each cut to its length."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, : int(n)] for i, n in enumerate(_lengths(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of tensors packed in ``packed_sequences``."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def run_packed(module: Any, packed: PackedSequence, hx: Any) -> tuple[PackedSequence, Any]:
    """RNN/GRU/LSTM forward over a PackedSequence (``hx`` and states in the caller's order)."""
    from ... import _api

    batch_first = module.batch_first
    module.batch_first = False
    try:
        padded, lengths = pad_packed_sequence(packed)
        lens = as_array(lengths)
        is_lstm = module.mode == "LSTM"
        outs, hs, cs, members = [], [], [], []
        for length in sorted(set(lens.tolist()), reverse=True):
            idx = np.flatnonzero(lens == length)
            x = padded[:length, idx]
            h0: Any = None
            if hx is not None:
                h0 = (hx[0][:, idx], hx[1][:, idx]) if is_lstm else hx[:, idx]
            out, state = module.forward(x, h0)
            gap = padded.shape[0] - length
            if gap:
                out = _api.cat([out, _api.zeros(gap, *out.shape[1:], dtype=out.dtype)], 0)
            outs.append(out)
            hs.append(state[0] if is_lstm else state)
            if is_lstm:
                cs.append(state[1])
            members.append(idx)
    finally:
        module.batch_first = batch_first
    back = np.argsort(np.concatenate(members))  # group order -> caller's order
    out = _api.cat(outs, 1)[:, back]
    h_n = _api.cat(hs, 1)[:, back]
    state_out = (h_n, _api.cat(cs, 1)[:, back]) if is_lstm else h_n
    order = (
        as_array(packed.sorted_indices)
        if packed.sorted_indices is not None
        else np.arange(out.shape[1])
    )
    data, _ = _pack_time_major(out, lens[order], order)
    return packed._replace(data=data), state_out
