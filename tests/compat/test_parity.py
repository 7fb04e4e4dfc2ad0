"""Parity with torch for what ported scripts lean on: LBFGS on a real model (several parameter
tensors, both line searches, the tolerance and budget settings) and the transformer family with
every mask argument (state_dict loaded into both)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def _copy_into(ours, ref):
    """Load torch module ``ref``'s state_dict into chainrule module ``ours``."""
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})


@pytest.mark.parametrize(
    "kw",
    [
        {"lr": 0.5},
        {"lr": 1, "line_search_fn": "strong_wolfe"},
        {
            "lr": 1,
            "line_search_fn": "strong_wolfe",
            "history_size": 3,
            "max_iter": 7,
            "max_eval": 9,
        },
        {"lr": 0.3, "max_iter": 4, "tolerance_grad": 1e-3, "tolerance_change": 1e-6},
    ],
)
def test_lbfgs_on_a_model_matches_torch(torch, kw):
    rs = np.random.RandomState(0)
    x, y = rs.randn(32, 3), rs.randn(32, 1)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    ref.double()
    ours = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1)).double()
    _copy_into(ours, ref)
    results = []
    for lib, model in ((torch, ref), (cr, ours)):
        opt = lib.optim.LBFGS(model.parameters(), **kw)
        xt, yt = lib.tensor(x), lib.tensor(y)

        def closure(model=model, opt=opt, lib=lib, xt=xt, yt=yt):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xt), yt)
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(3)]
        params = [p.detach().numpy().copy() for p in model.parameters()]
        state = opt.state[next(iter(model.parameters()))]
        results.append((losses, params, state["func_evals"], state["n_iter"]))
    (l_t, p_t, fe_t, it_t), (l_c, p_c, fe_c, it_c) = results
    np.testing.assert_allclose(l_c, l_t, rtol=1e-7)
    for a, b in zip(p_c, p_t):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert (fe_c, it_c) == (fe_t, it_t)


D, H, FF = 8, 2, 16
# torch deprecates (but supports) a bool padding mask next to a float attention mask; scripts
# still do it, so it is tested, with torch's warning silenced
_MISMATCH = pytest.mark.filterwarnings("ignore:Support for mismatched")


def _bool_padding(rs, b, s):
    m = np.zeros((b, s), bool)
    m[0, -2:] = True  # the first sequence is 2 shorter
    return m


def _run(lib, model, call, arrays):
    ins = [
        lib.tensor(a, requires_grad=a.dtype == np.float64) if isinstance(a, np.ndarray) else a
        for a in arrays
    ]
    out = call(lib, model, *ins)
    w = np.random.RandomState(5).rand(*out.shape)
    (out * lib.tensor(w)).sum().backward()
    grads = [i.grad.numpy().copy() for i in ins if hasattr(i, "grad") and i.requires_grad]
    pgrads = {k: p.grad.numpy().copy() for k, p in model.named_parameters() if p.grad is not None}
    return out.detach().numpy(), grads, pgrads


def _compare(torch, build, call, arrays):
    ref = build(torch).double()
    ours = build(cr).double()
    _copy_into(ours, ref)
    ref.eval()
    ours.eval()
    o_t, g_t, pg_t = _run(torch, ref, call, arrays)
    o_c, g_c, pg_c = _run(cr, ours, call, arrays)
    np.testing.assert_allclose(o_c, o_t, rtol=1e-9, atol=1e-10)
    for a, b in zip(g_c, g_t):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert sorted(pg_c) == sorted(pg_t)
    for k in pg_t:
        np.testing.assert_allclose(pg_c[k], pg_t[k], rtol=1e-8, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@_MISMATCH
def test_encoder_with_padding_and_causal_masks(torch, batch_first, norm_first):
    rs = np.random.RandomState(1)
    b, s = 3, 5
    src = rs.randn(b, s, D) if batch_first else rs.randn(s, b, D)
    pad = _bool_padding(rs, b, s)

    def build(m):
        layer = m.nn.TransformerEncoderLayer(
            D, H, FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first
        )
        return m.nn.TransformerEncoder(layer, 2, norm=m.nn.LayerNorm(D), enable_nested_tensor=False)

    def call(m, model, x, pad_mask):
        mask = m.nn.Transformer.generate_square_subsequent_mask(s, dtype=m.float64)
        return model(x, mask=mask, src_key_padding_mask=pad_mask, is_causal=True)

    _compare(torch, build, call, [src, pad])


def test_encoder_float_padding_mask(torch):
    rs = np.random.RandomState(2)
    src = rs.randn(4, 2, D)
    pad = np.zeros((2, 4))
    pad[1, -1] = -np.inf

    def build(m):
        return m.nn.TransformerEncoder(
            m.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation="gelu"),
            1,
            enable_nested_tensor=False,
        )

    _compare(torch, build, lambda m, model, x, p: model(x, src_key_padding_mask=p), [src, pad])


@pytest.mark.parametrize("batch_first", [False, True])
@_MISMATCH
def test_decoder_with_all_masks(torch, batch_first):
    rs = np.random.RandomState(3)
    b, t, s = 2, 4, 5
    tgt = rs.randn(b, t, D) if batch_first else rs.randn(t, b, D)
    mem = rs.randn(b, s, D) if batch_first else rs.randn(s, b, D)
    tgt_pad = np.zeros((b, t), bool)
    tgt_pad[1, -1] = True
    mem_pad = _bool_padding(rs, b, s)

    def build(m):
        layer = m.nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, batch_first=batch_first)
        return m.nn.TransformerDecoder(layer, 2, norm=m.nn.LayerNorm(D))

    def call(m, model, x, memory, tp, mp):
        mask = m.nn.Transformer.generate_square_subsequent_mask(t, dtype=m.float64)
        return model(
            x,
            memory,
            tgt_mask=mask,
            tgt_key_padding_mask=tp,
            memory_key_padding_mask=mp,
            tgt_is_causal=True,
        )

    _compare(torch, build, call, [tgt, mem, tgt_pad, mem_pad])


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's own, for norm_first
@_MISMATCH
def test_full_transformer_with_masks(torch):
    rs = np.random.RandomState(4)
    b, s, t = 2, 5, 4
    src, tgt = rs.randn(b, s, D), rs.randn(b, t, D)
    src_pad = _bool_padding(rs, b, s)

    def build(m):
        return m.nn.Transformer(D, H, 2, 2, FF, dropout=0.0, batch_first=True, norm_first=True)

    def call(m, model, x, y, sp):
        tgt_mask = model.generate_square_subsequent_mask(t, dtype=m.float64)
        memory_mask = m.zeros(t, s, dtype=m.float64)
        return model(
            x,
            y,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            src_key_padding_mask=sp,
            memory_key_padding_mask=sp,
        )

    _compare(torch, build, call, [src, tgt, src_pad])
