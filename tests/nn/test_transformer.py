"""Transformer layers: torch parity with the same state_dict (post/pre-norm, relu/gelu/callable
activation, batch_first, masks), keys/repr, deep-copied stacks, full Transformer, gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from _layer_parity import compare_layer, gradcheck_layer

import chainrule as cr
import chainrule.nn as nn

# torch's notices about its own nested-tensor fast path and mixed mask types
pytestmark = [
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:Support for mismatched"),
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
]

D, H, FF = 8, 2, 16


def _causal(n):
    return np.triu(np.full((n, n), -np.inf), 1)


ENC = [
    {},
    {"norm_first": True, "activation": "gelu", "batch_first": True},
    {"bias": False, "layer_norm_eps": 1e-3},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", ENC)
def test_encoder_layer(torch, kw, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, D))
    seq = 5 if kw.get("batch_first") else 3
    batch = 3 if kw.get("batch_first") else 5
    kpm = rng.random((batch, seq)) > 0.7
    kpm[:, 0] = False

    def call(m, x, mask, kpm):
        return m(x, src_mask=mask, src_key_padding_mask=kpm)

    compare_layer(
        torch,
        lambda m: m.TransformerEncoderLayer(D, H, FF, dropout=0.0, **kw),
        [x, _causal(seq), kpm],
        dtype,
        call=call,
        const=(1,),
    )


def test_encoder_layer_callable_activation(torch):
    x = np.random.default_rng(1).standard_normal((4, 2, D))

    def make(m):
        act = m.GELU(approximate="tanh")
        return m.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation=act)

    compare_layer(torch, make, [x])


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True}])
def test_decoder_layer(torch, kw):
    rng = np.random.default_rng(2)
    tgt = rng.standard_normal((4, 3, D))
    mem = rng.standard_normal((5, 3, D) if not kw.get("batch_first") else (4, 5, D))
    if kw.get("batch_first"):
        tgt = rng.standard_normal((3, 4, D))
        mem = rng.standard_normal((3, 5, D))
    t_len = tgt.shape[1] if kw.get("batch_first") else tgt.shape[0]

    def call(m, t, mem, mask):
        return m(t, mem, tgt_mask=mask)

    compare_layer(
        torch,
        lambda m: m.TransformerDecoderLayer(D, H, FF, dropout=0.0, **kw),
        [tgt, mem, _causal(t_len)],
        call=call,
        const=(2,),
    )


def test_stacks_and_transformer(torch):
    rng = np.random.default_rng(3)
    src = rng.standard_normal((6, 2, D))
    tgt = rng.standard_normal((4, 2, D))

    def enc(m):
        return m.TransformerEncoder(
            m.TransformerEncoderLayer(D, H, FF, dropout=0.0), 2, norm=m.LayerNorm(D)
        )

    compare_layer(
        torch, enc, [src, _causal(6)], call=lambda m, x, mask: m(x, mask=mask), const=(1,)
    )

    def dec(m):
        return m.TransformerDecoder(m.TransformerDecoderLayer(D, H, FF, dropout=0.0), 2)

    compare_layer(torch, dec, [tgt, src], call=lambda m, t, s: m(t, s))

    def full(m):
        return m.Transformer(D, H, 2, 1, FF, dropout=0.0)

    def call(m, s, t, mask):
        return m(s, t, tgt_mask=mask)

    compare_layer(torch, full, [src, tgt, _causal(4)], call=call, const=(2,))


def test_keys_repr_and_clones(torch):
    t = torch.nn.Transformer(D, H, 2, 2, FF)
    c = nn.Transformer(D, H, 2, 2, FF)
    assert repr(c) == repr(t)
    assert [(k, tuple(v.shape)) for k, v in c.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    layers = c.encoder.layers
    assert layers[0].linear1.weight is not layers[1].linear1.weight
    bound = np.sqrt(6 / (D + FF))
    assert np.abs(c.encoder.layers[0].linear1.weight.detach().numpy()).max() <= bound
    layer = nn.TransformerEncoderLayer(D, H, activation="gelu")
    tl = torch.nn.TransformerEncoderLayer(D, H, activation="gelu")
    assert repr(layer) == repr(tl)


def test_generate_square_subsequent_mask(torch):
    c = nn.Transformer.generate_square_subsequent_mask(5)
    t = torch.nn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    assert c.dtype == cr.float32


def test_gradcheck_encoder_layer():
    x = np.random.default_rng(4).standard_normal((3, 2, D))
    gradcheck_layer(lambda m: m.TransformerEncoderLayer(D, H, FF, dropout=0.0), [x])


def test_bad_input():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")
    m = nn.Transformer(D, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(cr.randn(3, 2, D), cr.randn(3, 4, D))
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal"):
        m(cr.randn(3, 2, 6), cr.randn(3, 2, 6))


def test_encoder_inference_zeroes_padding_like_torch(torch):
    # torch's eval/no-grad path runs on nested tensors and returns 0 at padded positions
    t_layer = torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True)
    t = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(D)).eval()
    c = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(D, H, FF, batch_first=True), 2, norm=nn.LayerNorm(D)
    ).eval()
    c.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((3, 5, D)).astype(np.float32)
    kpm = np.array([[0, 0, 1, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], dtype=bool)
    with torch.no_grad():
        want = t(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).numpy()
    with cr.no_grad():
        got = c(cr.tensor(x), src_key_padding_mask=cr.tensor(kpm)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # with grad enabled torch takes the ordinary path: padded rows are computed
    want_grad = t(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).detach().numpy()
    got_grad = c(cr.tensor(x), src_key_padding_mask=cr.tensor(kpm)).detach().numpy()
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got_grad[0, 3], 0)
