"""nn.utils.rnn: padding and packing variable-length batches, RNNs over packed input, vs torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import rnn as R

LENGTHS = [3, 5, 2, 5]


def _seqs(lib, rs_seed=0, feat=3, dtype=np.float64):
    rs = np.random.RandomState(rs_seed)
    arrays = [rs.randn(n, feat).astype(dtype) for n in LENGTHS]
    return [lib.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(torch, batch_first, side):
    ours = R.pad_sequence(_seqs(cr), batch_first=batch_first, padding_value=-1.0, padding_side=side)
    ref = torch.nn.utils.rnn.pad_sequence(
        _seqs(torch), batch_first=batch_first, padding_value=-1.0, padding_side=side
    )
    np.testing.assert_array_equal(ours.detach().numpy(), ref.detach().numpy())


@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip(torch, enforce_sorted, batch_first):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    rs = np.random.RandomState(1)
    shape = (len(lengths), 5, 2) if batch_first else (5, len(lengths), 2)
    x = rs.randn(*shape)
    outs = []
    for lib, mod in ((torch, torch.nn.utils.rnn), (cr, R)):
        xt = lib.tensor(x, requires_grad=True)
        p = mod.pack_padded_sequence(xt, lib.tensor(lengths), batch_first, enforce_sorted)
        padded, lens = mod.pad_packed_sequence(p, batch_first=batch_first, total_length=6)
        (
            padded * lib.tensor(np.arange(padded.numel()).reshape(padded.shape) * 1.0)
        ).sum().backward()
        idx = [
            None if i is None else i.numpy().tolist()
            for i in (p.sorted_indices, p.unsorted_indices)
        ]
        outs.append((p.data.detach().numpy(), p.batch_sizes.numpy(), idx, padded.detach().numpy(),
                     lens.numpy(), xt.grad.numpy()))  # fmt: skip
    for a, b in zip(*outs):
        if isinstance(a, list):
            assert a == b
        else:
            np.testing.assert_array_equal(a, b)
    assert outs[1][4].dtype == np.int64


def test_pack_sequence_and_unpack(torch):
    ours = R.pack_sequence(_seqs(cr), enforce_sorted=False)
    ref = torch.nn.utils.rnn.pack_sequence(_seqs(torch), enforce_sorted=False)
    np.testing.assert_array_equal(ours.data.detach().numpy(), ref.data.detach().numpy())
    back = R.unpack_sequence(ours)
    assert [b.shape[0] for b in back] == LENGTHS
    for a, b in zip(back, _seqs(cr)):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    padded = R.pad_sequence(_seqs(cr))
    assert [u.shape[0] for u in R.unpad_sequence(padded, LENGTHS)] == LENGTHS


@pytest.mark.parametrize(
    "kind, kw",
    [
        ("LSTM", {"num_layers": 2}),
        ("LSTM", {"bidirectional": True}),
        ("GRU", {"batch_first": True}),
        ("RNN", {"num_layers": 2, "bidirectional": True}),
        ("LSTM", {"proj_size": 2, "batch_first": True}),
    ],
)
@pytest.mark.parametrize("with_hx", [False, True])
def test_rnn_over_packed_input_matches_torch(torch, kind, kw, with_hx):
    bf = kw.get("batch_first", False)
    ref = getattr(torch.nn, kind)(3, 4, **kw).double()
    ours = getattr(cr.nn, kind)(3, 4, **kw).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    rs = np.random.RandomState(2)
    h_size = kw.get("proj_size") or 4
    h0 = rs.randn(layers, len(LENGTHS), h_size)
    c0 = rs.randn(layers, len(LENGTHS), 4)
    results = []
    for lib, mod, model in ((torch, torch.nn.utils.rnn, ref), (cr, R, ours)):
        seqs = _seqs(lib)
        packed = mod.pack_sequence(seqs, enforce_sorted=False)
        hx = None
        if with_hx:
            hx = (lib.tensor(h0), lib.tensor(c0)) if kind == "LSTM" else lib.tensor(h0)
        out, state = model(packed, hx)
        assert isinstance(out, mod.PackedSequence)
        padded, lens = mod.pad_packed_sequence(out, batch_first=bf)
        h = state[0] if kind == "LSTM" else state
        loss = (padded**2).sum() + (h * 1.5).sum()
        if kind == "LSTM":
            loss = loss + state[1].sum()
        loss.backward()
        grads = [s.grad.numpy() for s in seqs]
        pg = [p.grad.numpy() for p in model.parameters()]
        results.append(
            (padded.detach().numpy(), h.detach().numpy(), grads, pg, out.data.detach().numpy())
        )
    (p_t, h_t, g_t, pg_t, d_t), (p_c, h_c, g_c, pg_c, d_c) = results
    np.testing.assert_allclose(p_c, p_t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d_c, d_t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h_c, h_t, rtol=1e-9, atol=1e-12)
    for a, b in zip(g_c + pg_c, g_t + pg_t):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-11)


def test_bad_input():
    x = cr.zeros(4, 2, 3)
    with pytest.raises(RuntimeError, match="decreasing"):
        R.pack_padded_sequence(x, [2, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        R.pack_padded_sequence(x, [3, 0], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="batch_size"):
        R.pack_padded_sequence(x, [3, 2, 1])
    p = R.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match="total_length"):
        R.pad_packed_sequence(p, total_length=2)
