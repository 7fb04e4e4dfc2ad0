"""MultiheadAttention masks against torch 2.13: a float attn_mask that requires grad gets torch's
gradient in every configuration (2-D/3-D, key padding, bias_kv, zero_attn, need_weights,
batch_first), and fully masked query rows give exactly what torch gives in each mode.

What torch 2.13 returns for a query row whose keys are all masked (found by running it):
- ``need_weights=True``: NaN output and NaN weights, in train and eval, with or without grad
  (a plain softmax over all -inf).
- ``need_weights=False``: zeros (sdpa's safe softmax; the output projection's bias after it),
  except on the inference fast path (eval, no gradient to record, batch_first, batched
  self-attention with one tensor, even num_heads, packed in-projection with biases, no
  bias_kv / zero_attn) with a *bool* attn_mask or key_padding_mask: NaN there. A float mask
  disables the fast path, so -inf float masks give zeros.
- ``TransformerEncoder`` on its nested-tensor path zeroes padded positions, so a fully padded
  sequence comes out as zeros there (NaN when ``enable_nested_tensor=False``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.diagnose import gradcheck

# torch's own deprecation notice when the two masks have different types, and its notes that
# the nested-tensor path was not taken
pytestmark = [
    pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask"),
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
]

E, N, L, S = 8, 2, 3, 4


def _pair(torch, heads=2, dtype="float64", **kw):
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, heads, **kw)
    with torch.no_grad():
        if t.in_proj_bias is not None:
            t.in_proj_bias.normal_()
            t.out_proj.bias.normal_()
    t = t.double() if dtype == "float64" else t
    c = nn.MultiheadAttention(E, heads, **kw)
    c = c.double() if dtype == "float64" else c
    c.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, c


CONFIGS = list(itertools.product([False, True], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dim3,kpm_on,bias_kv,zero_attn", CONFIGS)
def test_float_attn_mask_gets_torchs_gradient(
    torch, need_weights, batch_first, dim3, kpm_on, bias_kv, zero_attn
):
    t, c = _pair(torch, batch_first=batch_first, add_bias_kv=bias_kv, add_zero_attn=zero_attn)
    rng = np.random.default_rng(1)
    q = rng.normal(size=(N, L, E) if batch_first else (L, N, E))
    kv = rng.normal(size=(N, S, E) if batch_first else (S, N, E))
    mask = rng.normal(size=(N * 2, L, S) if dim3 else (L, S))
    kpm = np.zeros((N, S), bool)
    kpm[1, 0] = True
    g = rng.normal(size=q.shape)

    tq, tkv, tm = (torch.tensor(a, requires_grad=True) for a in (q, kv, mask))
    cq, ckv, cm = (cr.tensor(a, requires_grad=True) for a in (q, kv, mask))
    to, tw = t(tq, tkv, tkv, need_weights=need_weights, attn_mask=tm,
               key_padding_mask=torch.tensor(kpm) if kpm_on else None)  # fmt: skip
    co, cw = c(cq, ckv, ckv, need_weights=need_weights, attn_mask=cm,
               key_padding_mask=cr.tensor(kpm) if kpm_on else None)  # fmt: skip
    tl = (to * torch.tensor(g)).sum() + (0.3 * tw.square().sum() if need_weights else 0)
    cl = (co * cr.tensor(g)).sum() + (0.3 * cw.square().sum() if need_weights else 0)
    tl.backward()
    cl.backward()
    assert cm.grad is not None and cm.grad.shape == tuple(tm.grad.shape)
    np.testing.assert_allclose(cm.grad.numpy(), tm.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(cq.grad.numpy(), tq.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ckv.grad.numpy(), tkv.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_float_attn_mask_gradcheck_with_bias_kv_and_zero_attn():
    cr.manual_seed(0)
    m = nn.MultiheadAttention(E, 2, add_bias_kv=True, add_zero_attn=True).double()
    rng = np.random.default_rng(2)
    q = cr.tensor(rng.normal(size=(L, N, E)))
    mask = cr.tensor(rng.normal(size=(L, L)), requires_grad=True)

    def f(mk):
        out, w = m(q, q, q, attn_mask=mk)
        return out.sum() + w.square().sum()

    assert gradcheck(f, (mask,))


def test_sdpa_float_mask_gradient_matches_torch(torch):
    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=(N, 2, n, 4)) for n in (L, S, S))
    mask = rng.normal(size=(L, S))
    tq, tk, tv, tm = (torch.tensor(a, requires_grad=True) for a in (q, k, v, mask))
    cq, ck, cv, cm = (cr.tensor(a, requires_grad=True) for a in (q, k, v, mask))
    torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=tm
    ).square().sum().backward()
    F.scaled_dot_product_attention(cq, ck, cv, attn_mask=cm).square().sum().backward()
    np.testing.assert_allclose(cm.grad.numpy(), tm.grad.numpy(), rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- fully masked rows

MODES = ["train", "eval", "eval+no_grad", "eval+frozen"]
KINDS = ["bool_row", "float_row", "kpm", "bool_row+kpm", "none"]


def _masks(kind):
    am = kpm = None
    if kind.startswith("bool_row"):
        am = np.zeros((L, L), bool)
        am[1] = True
    elif kind == "float_row":
        am = np.zeros((L, L), np.float32)
        am[1] = -np.inf
    if kind.endswith("kpm"):
        kpm = np.zeros((N, L), bool)
        kpm[1] = True
    return am, kpm


def _run(lib, m, x, kv, mode, need_weights, am, kpm):
    m.train(mode == "train")
    if mode == "eval+frozen":  # grad mode on, but nothing requires grad: torch's fast path too
        m.requires_grad_(False)
    ctx = lib.no_grad() if mode == "eval+no_grad" else lib.enable_grad()
    with ctx:
        out, w = m(x, kv, kv, need_weights=need_weights,
                   attn_mask=None if am is None else lib.tensor(am),
                   key_padding_mask=None if kpm is None else lib.tensor(kpm))  # fmt: skip
    return out.detach().numpy(), None if w is None else w.detach().numpy()


@pytest.mark.parametrize("heads", [2, 1])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("self_attention", [True, False])
def test_fully_masked_rows_match_torch(torch, heads, batch_first, need_weights, mode,
                                       self_attention):  # fmt: skip
    x = np.random.default_rng(0).normal(size=(N, L, E) if batch_first else (L, N, E))
    x = x.astype(np.float32)
    for kind in KINDS:
        am, kpm = _masks(kind)
        t, c = _pair(torch, heads, "float32", batch_first=batch_first)
        tx, cx = torch.tensor(x), cr.tensor(x)
        tkv = tx if self_attention else tx.clone()
        ckv = cx if self_attention else cx.clone()
        to, tw = _run(torch, t, tx, tkv, mode, need_weights, am, kpm)
        co, cw = _run(cr, c, cx, ckv, mode, need_weights, am, kpm)
        where = f"{kind}: torch NaNs {np.isnan(to).sum()}, chainrule NaNs {np.isnan(co).sum()}"
        np.testing.assert_allclose(co, to, rtol=1e-5, atol=1e-5, equal_nan=True, err_msg=where)
        if need_weights:
            np.testing.assert_allclose(cw, tw, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_the_fast_path_case_is_nan_and_the_others_are_not(torch):
    """The documented table, spelled out on one configuration."""
    x = cr.tensor(np.random.default_rng(0).normal(size=(N, L, E)).astype(np.float32))
    am, kpm = _masks("kpm")
    _, m = _pair(torch, 2, "float32", batch_first=True)
    m.eval()
    with cr.no_grad():
        fast = m(x, x, x, key_padding_mask=cr.tensor(kpm), need_weights=False)[0].numpy()
        slow = m(x, x.clone(), x, key_padding_mask=cr.tensor(kpm), need_weights=False)[0]
    assert np.isnan(fast[1]).all() and np.isfinite(fast[0]).all()
    np.testing.assert_allclose(
        slow.numpy()[1], np.broadcast_to(m.out_proj.bias.detach().numpy(), (L, E))
    )


def test_gradients_through_fully_masked_rows_match_torch(torch):
    for need_weights in (False, True):
        t, c = _pair(torch, 2, batch_first=True)
        x = np.random.default_rng(4).normal(size=(N, L, E))
        am, kpm = _masks("bool_row")
        tx, cx = torch.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
        to, _ = t(tx, tx, tx, attn_mask=torch.tensor(am), need_weights=need_weights)
        co, _ = c(cx, cx, cx, attn_mask=cr.tensor(am), need_weights=need_weights)
        to.sum().backward()
        co.sum().backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, equal_nan=True)
        for (name, tp), cp in zip(t.named_parameters(), c.parameters()):
            np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("nested", [True, False])
def test_encoder_with_a_fully_padded_sequence_matches_torch(torch, nested):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True)
    t = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=nested)
    c = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True),
                              2, enable_nested_tensor=nested)  # fmt: skip
    c.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    t.eval()
    c.eval()
    x = np.random.default_rng(0).normal(size=(N, L, E)).astype(np.float32)
    kpm = np.zeros((N, L), bool)
    kpm[1] = True
    with torch.no_grad():
        to = t(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).numpy()
    with cr.no_grad():
        co = c(cr.tensor(x), src_key_padding_mask=cr.tensor(kpm))
    assert co.dtype == cr.float32
    np.testing.assert_allclose(co.numpy(), to, rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("need_weights,kpm_on", [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize("bias_kv,zero_attn", [(False, False), (True, True)])
def test_is_causal_hint_replaces_the_mask_like_torch(torch, need_weights, kpm_on, bias_kv,
                                                     zero_attn):  # fmt: skip
    """torch drops attn_mask for sdpa's causal mask when there are no weights or padding to
    return (over all keys, bias_k and the zero key included); the mask then has no grad."""
    t, c = _pair(torch, add_bias_kv=bias_kv, add_zero_attn=zero_attn)
    rng = np.random.default_rng(6)
    q, kv = rng.normal(size=(L, N, E)), rng.normal(size=(S, N, E))
    mask = rng.normal(size=(L, S))  # deliberately not causal
    kpm = np.zeros((N, S), bool)
    kpm[0, -1] = True
    tm, cm = torch.tensor(mask, requires_grad=True), cr.tensor(mask, requires_grad=True)
    tq, cq = torch.tensor(q, requires_grad=True), cr.tensor(q, requires_grad=True)
    to, _ = t(
        tq,
        torch.tensor(kv),
        torch.tensor(kv),
        attn_mask=tm,
        is_causal=True,
        need_weights=need_weights,
        key_padding_mask=torch.tensor(kpm) if kpm_on else None,
    )
    co, _ = c(
        cq,
        cr.tensor(kv),
        cr.tensor(kv),
        attn_mask=cm,
        is_causal=True,
        need_weights=need_weights,
        key_padding_mask=cr.tensor(kpm) if kpm_on else None,
    )
    np.testing.assert_allclose(co.detach().numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-12)
    to.square().sum().backward()
    co.square().sum().backward()
    np.testing.assert_allclose(cq.grad.numpy(), tq.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert (cm.grad is None) == (tm.grad is None)
    if tm.grad is not None:
        np.testing.assert_allclose(cm.grad.numpy(), tm.grad.numpy(), rtol=1e-9, atol=1e-12)
