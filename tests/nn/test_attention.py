"""scaled_dot_product_attention and MultiheadAttention: torch parity (values, weights, all
gradients; f32/f64; masks bool/float, key padding, kdim/vdim, bias_kv, zero_attn, batch_first,
unbatched), gradcheck, keys/repr/init, dropout, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from _layer_parity import compare_layer, gradcheck_layer

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

# torch's own deprecation notice when the two masks have different types
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")

L, S, N, E = 4, 5, 3, 8


def _qkv(kw, seed=0):
    rng = np.random.default_rng(seed)
    bf = kw.get("batch_first", False)

    def shape(n, d):
        return (N, n, d) if bf else (n, N, d)

    return [
        rng.standard_normal(shape(L, E)),
        rng.standard_normal(shape(S, kw.get("kdim", E))),
        rng.standard_normal(shape(S, kw.get("vdim", E))),
    ]


def _masks():
    rng = np.random.default_rng(5)
    kpm = rng.random((N, S)) > 0.6
    kpm[:, 0] = False
    am = rng.random((L, S)) > 0.7
    am[:, 0] = False
    return [
        {},
        {"key_padding_mask": kpm},
        {"attn_mask": am},
        {"attn_mask": rng.standard_normal((L, S))},
        {"attn_mask": rng.standard_normal((N * 2, L, S)), "key_padding_mask": kpm},
    ]


MODULES = [
    {},
    {"batch_first": True},
    {"kdim": 3, "vdim": 5},
    {"add_bias_kv": True, "add_zero_attn": True},
    {"bias": False},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", MODULES)
@pytest.mark.parametrize("mask_i", range(5))
def test_mha_parity(torch, kw, mask_i, dtype):
    masks = _masks()[mask_i]
    names = list(masks)
    arrays = [masks[k] for k in names]

    def call(m, q, k, v, *ms):
        return m(q, k, v, **dict(zip(names, ms)))

    compare_layer(
        torch,
        lambda m: m.MultiheadAttention(E, 2, **kw),
        _qkv(kw) + arrays,
        dtype,
        call=call,
        const=(3, 4),
    )


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
def test_mha_weights_options(torch, need_weights, average):
    def call(m, q, k, v):
        return m(q, k, v, need_weights=need_weights, average_attn_weights=average)

    compare_layer(torch, lambda m: m.MultiheadAttention(E, 4), _qkv({}), call=call)


def test_mha_self_attention_and_unbatched(torch):
    x = np.random.default_rng(1).standard_normal((L, E))
    compare_layer(torch, lambda m: m.MultiheadAttention(E, 2), [x], call=lambda m, x: m(x, x, x))
    xb = np.random.default_rng(2).standard_normal((N, L, E))
    causal = np.triu(np.ones((L, L), dtype=bool), 1)
    compare_layer(
        torch,
        lambda m: m.MultiheadAttention(E, 2, batch_first=True),
        [xb, causal],
        call=lambda m, x, a: m(x, x, x, attn_mask=a, is_causal=True),
    )


def test_mha_gradcheck():
    q, k, v = _qkv({}, seed=3)
    gradcheck_layer(lambda m: m.MultiheadAttention(E, 2), [q, k, v])
    q, k, v = _qkv({"kdim": 3, "vdim": 5}, seed=4)
    gradcheck_layer(
        lambda m: m.MultiheadAttention(E, 2, kdim=3, vdim=5, add_bias_kv=True), [q, k, v]
    )


def test_mha_keys_repr_init(torch):
    for kw in MODULES:
        t, c = torch.nn.MultiheadAttention(E, 2, **kw), nn.MultiheadAttention(E, 2, **kw)
        assert repr(c) == repr(t)
        assert [(k, tuple(v.shape)) for k, v in c.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in t.state_dict().items()
        ]
    m = nn.MultiheadAttention(64, 4)
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (64 + 192))
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= bound


def test_mha_dropout_train_eval():
    cr.manual_seed(0)
    m = nn.MultiheadAttention(E, 2, dropout=0.5)
    q = cr.randn(L, N, E)
    m.eval()
    a = m(q, q, q)[0].detach().numpy()
    np.testing.assert_array_equal(a, m(q, q, q)[0].detach().numpy())
    m.train()
    assert not np.allclose(a, m(q, q, q)[0].detach().numpy())


def test_mha_bad_input():
    m = nn.MultiheadAttention(E, 2)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8"):
        m(cr.randn(L, N, 6), cr.randn(S, N, 6), cr.randn(S, N, 6))
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \[4, 4\], but should be \[4, 5\]"):
        m(cr.randn(L, N, E), cr.randn(S, N, E), cr.randn(S, N, E), attn_mask=cr.zeros(L, L))
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(cr.randn(L, N, E), cr.randn(S, N, E), cr.randn(S, N, E), is_causal=True)


# ------------------------------------------------------------------------------------- sdpa


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sdpa_masks(torch, dtype):
    rng = np.random.default_rng(6)
    q, k, v = (
        rng.standard_normal(s).astype(dtype) for s in [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 2)]
    )
    bool_mask = rng.random((5, 6)) > 0.5
    bool_mask[2] = False  # a fully masked row: torch gives zeros there
    for kw in [
        {},
        {"attn_mask": bool_mask},
        {"attn_mask": rng.standard_normal((3, 5, 6))},
        {"scale": 0.3},
        {"is_causal": True},
    ]:
        tin = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        cin = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
        tkw = {
            a: torch.tensor(b.astype(dtype) if b.dtype != bool else b)
            if isinstance(b, np.ndarray)
            else b
            for a, b in kw.items()
        }
        ckw = {
            a: cr.tensor(b.astype(dtype) if b.dtype != bool else b)
            if isinstance(b, np.ndarray)
            else b
            for a, b in kw.items()
        }
        t = torch.nn.functional.scaled_dot_product_attention(*tin, **tkw)
        c = F.scaled_dot_product_attention(*cin, **ckw)
        tol = 1e-5 if dtype == "float32" else 1e-10
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)
        t.sum().backward()
        c.sum().backward()
        for a, b in zip(cin, tin):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


def test_sdpa_dropout_and_gqa(torch):
    cr.manual_seed(0)
    q = cr.randn(2, 4, 8, 4)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out.shape == (2, 4, 8, 4)
    full = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert np.all(full.numpy() == 0)
    rng = np.random.default_rng(7)
    qa, ka, va = (
        rng.standard_normal((1, 4, 3, 2)),
        rng.standard_normal((1, 2, 5, 2)),
        rng.standard_normal((1, 2, 5, 3)),
    )
    t = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(qa), torch.tensor(ka), torch.tensor(va), enable_gqa=True
    )
    c = F.scaled_dot_product_attention(cr.tensor(qa), cr.tensor(ka), cr.tensor(va), enable_gqa=True)
    np.testing.assert_allclose(c.numpy(), t.numpy(), atol=1e-12)


def test_sdpa_bad_input():
    q = cr.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="shapes do not match"):
        F.scaled_dot_product_attention(q, cr.randn(2, 3, 5), cr.randn(2, 3, 5))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.zeros(3, 3), is_causal=True)
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.zeros(4, 3))
