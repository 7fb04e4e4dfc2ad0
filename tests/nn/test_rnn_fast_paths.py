"""The performance paths of the recurrent kernels and the embedding backward (issue 12):
longer sequences than the layer tests (so the per-step backward runs many steps), gradients
flowing into h_n/c_n as well as the output, the embedding's grouped-row sum against
``np.add.at`` and torch (many repeated indices, padding, frequency scaling, empty input)."""

from __future__ import annotations

import numpy as np
import pytest
from _layer_parity import TOL, compare_layer

import chainrule as cr
import chainrule.nn as nn
from chainrule.ops.nn.misc import _sum_rows_by_index

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "kw",
    [
        {"batch_first": True},
        {"bidirectional": True},
        {"proj_size": 3, "batch_first": True},
        {"bias": False},
    ],
)
def test_lstm_long_sequence_parity(torch, kw, dtype):
    # 24 steps, 7 sequences, hidden 9: every output, (h_n, c_n) and every gradient against torch
    x = np.random.default_rng(5).standard_normal(
        (7, 24, 6) if kw.get("batch_first") else (24, 7, 6)
    )
    compare_layer(torch, lambda m: m.LSTM(6, 9, **kw), [x], dtype)


def test_lstm_char_model_shapes_match_torch(torch):
    # the benchmark's layer at a quarter of its size: embedding → LSTM(batch_first) → head,
    # cross-entropy over every step; loss and all parameter gradients in float32
    torch.manual_seed(0)
    t_emb, t_rnn, t_head = (
        torch.nn.Embedding(65, 16),
        torch.nn.LSTM(16, 32, batch_first=True),
        (torch.nn.Linear(32, 65)),
    )
    c_emb, c_rnn, c_head = (
        nn.Embedding(65, 16),
        nn.LSTM(16, 32, batch_first=True),
        nn.Linear(32, 65),
    )
    for c, t in ((c_emb, t_emb), (c_rnn, t_rnn), (c_head, t_head)):
        c.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 65, (8, 16))
    y = rng.integers(0, 65, 8 * 16)

    def run(lib, emb, rnn, head):
        out, _ = rnn(emb(lib.tensor(idx)))
        loss = lib.nn.functional.cross_entropy(head(out).reshape(-1, 65), lib.tensor(y))
        loss.backward()
        return loss, [p.grad for m in (emb, rnn, head) for p in m.parameters()]

    lt, gt = run(torch, t_emb, t_rnn, t_head)
    lc, gc = run(cr, c_emb, c_rnn, c_head)
    np.testing.assert_allclose(float(lc.detach()), float(lt.detach()), rtol=1e-5)
    rtol, atol = TOL["float32"]
    for a, b in zip(gc, gt):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "rows", "dim"), [(65, 2048, 8), (3, 500, 2), (50, 7, 3), (4, 1, 5)])
def test_sum_rows_by_index_matches_add_at(n, rows, dim, dtype):
    rng = np.random.default_rng(n + rows)
    flat = rng.integers(0, n, rows)
    g = rng.standard_normal((rows, dim)).astype(dtype)
    ref = np.zeros((n, dim), dtype)
    np.add.at(ref, flat, g)
    got = _sum_rows_by_index(flat, g, n)
    assert got.dtype == dtype and got.shape == (n, dim)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    unused = np.setdiff1d(np.arange(n), flat)
    assert not got[unused].any()  # rows nobody looked up get exactly zero


def test_sum_rows_by_index_empty():
    got = _sum_rows_by_index(np.zeros(0, np.intp), np.zeros((0, 4), np.float32), 3)
    assert got.shape == (3, 4) and not got.any()


@pytest.mark.parametrize(
    "kw", [{}, {"padding_idx": 2}, {"scale_grad_by_freq": True}, {"padding_idx": 0}]
)
def test_embedding_backward_many_repeats_matches_torch(torch, kw):
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 6, (9, 40))  # 360 lookups of 6 rows: long groups per row
    w = rng.standard_normal((6, 5)).astype(np.float32)
    u = rng.standard_normal((9, 40, 5)).astype(np.float32)
    wt = torch.tensor(w, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), wt, **kw).backward(torch.tensor(u))
    wc = cr.tensor(w, requires_grad=True)
    cr.nn.functional.embedding(cr.tensor(idx), wc, **kw).backward(cr.tensor(u))
    np.testing.assert_allclose(wc.grad.numpy(), wt.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_embedding_backward_empty_indices(torch):
    w = cr.randn(4, 3, requires_grad=True)
    y = cr.nn.functional.embedding(cr.tensor(np.zeros((2, 0), np.int64)), w)
    assert tuple(y.shape) == (2, 0, 3)
    y.sum().backward()
    assert tuple(w.grad.shape) == (4, 3) and not w.grad.numpy().any()
