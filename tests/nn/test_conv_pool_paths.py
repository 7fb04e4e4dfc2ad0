"""The layout-specific code paths of conv2d and max_pool2d (issue 12's fast paths).

conv2d with groups=1 builds its im2col matrix as (M, K) or, for few input channels, transposed
(K, M), folds the bias into the GEMM and scatters ∂x tap by tap with stride/dilation/padding
clipping; max_pool2d skips zero-filling ∂x when its windows tile the input. Each path is
compared with torch (values, input and parameter gradients) and gradchecked in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from _layer_parity import compare_layer, gradcheck_layer

import chainrule as cr
import chainrule.nn.functional as F

# (in_channels, out_channels, kernel), kwargs, input (H, W): in_channels 2 takes the transposed
# (K, M) im2col, 8 the (M, K) one (kw × C >= 16).
CASES = [
    ((2, 5, 3), {"padding": 1}, (7, 6)),
    ((8, 5, 3), {"padding": 1}, (7, 6)),
    ((2, 4, 3), {"stride": (2, 3), "dilation": (2, 1), "padding": (1, 2)}, (9, 10)),
    ((8, 4, 3), {"stride": (2, 3), "dilation": (2, 1), "padding": (1, 2)}, (9, 10)),
    ((2, 3, 3), {"padding": 4, "dilation": 2, "bias": False}, (5, 5)),  # taps reading only pad
    ((8, 3, 3), {"padding": 4, "dilation": 2, "bias": False}, (5, 5)),
    ((8, 3, (4, 2)), {"padding": "same"}, (6, 7)),  # asymmetric padding
    ((1, 6, 3), {}, (5, 5)),  # no padding, one input channel (the CNN's first layer)
    ((8, 6, 2), {"stride": 2}, (7, 9)),  # stride leaves the last row/column without gradient
]


# torch warns that padding='same' with an even kernel copies the input; not our concern here
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("args", "kw", "hw"), CASES)
def test_conv2d_paths_parity(torch, args, kw, hw, dtype):
    x = np.random.default_rng(0).standard_normal((3, args[0], *hw))
    compare_layer(torch, lambda m: m.Conv2d(*args, **kw), [x], dtype)


@pytest.mark.parametrize(("args", "kw", "hw"), CASES[::2])
def test_conv2d_paths_gradcheck(args, kw, hw):
    x = np.random.default_rng(1).standard_normal((2, args[0], *hw))
    gradcheck_layer(lambda m: m.Conv2d(*args, **kw), [x])


@pytest.mark.parametrize("cin", [1, 8])
def test_conv2d_input_without_grad(torch, cin):
    # the first layer of a CNN: only the weight and bias gradients are computed
    x = np.random.default_rng(2).standard_normal((4, cin, 6, 6))
    compare_layer(torch, lambda m: m.Conv2d(cin, 5, 3, padding=1), [x], "float32", const=(0,))


def test_conv2d_channels_last_gradient(torch):
    # conv output feeding conv: the gradient arriving as a channels-last view is read in place
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32)
    w1 = np.random.default_rng(4).standard_normal((6, 3, 3, 3)).astype(np.float32)
    w2 = np.random.default_rng(5).standard_normal((4, 6, 3, 3)).astype(np.float32)
    outs = []
    for lib, fn in ((torch, torch.nn.functional), (cr, F)):
        xt, a, b = (lib.tensor(v, requires_grad=True) for v in (x, w1, w2))
        y = fn.max_pool2d(fn.relu(fn.conv2d(fn.relu(fn.conv2d(xt, a, padding=1)), b)), 2)
        (y * y).sum().backward()
        outs.append([v.detach().numpy() for v in (y, xt.grad, a.grad, b.grad)])
    for c, t in zip(outs[1], outs[0]):
        np.testing.assert_allclose(c, t, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("shape", "kw"),
    [
        ((2, 3, 8, 6), {"kernel_size": 2}),  # windows tile the input: ∂x is never zero-filled
        ((2, 3, 7, 6), {"kernel_size": 2}),  # the last row is in no window
        ((2, 3, 8, 6), {"kernel_size": 2, "padding": 1}),
        ((2, 3, 9, 9), {"kernel_size": 3}),
        ((2, 3, 8, 8), {"kernel_size": 2, "stride": 3}),
    ],
)
def test_max_pool2d_paths_with_ties(torch, shape, kw):
    # relu output: whole windows of zeros are ties, which go to the first element as in torch
    x = np.maximum(np.random.default_rng(6).standard_normal(shape), 0.0).astype(np.float32)
    x[0, 0, :2, :2] = np.nan
    x[1, 1, 2, 2:4] = 5.0
    res = []
    for lib in (torch, cr):
        xt = lib.tensor(x, requires_grad=True)
        y, idx = lib.nn.functional.max_pool2d(xt, return_indices=True, **kw)
        u = lib.tensor(np.arange(y.numel(), dtype=np.float32).reshape(tuple(y.shape)))
        (y * u).sum().backward()
        res.append([y.detach().numpy(), idx.numpy(), xt.grad.numpy()])
    for c, t in zip(res[1], res[0]):
        np.testing.assert_array_equal(c, t)


def _conv_pool_grads(x, w, b, **kw):
    xt, wt, bt = (cr.tensor(v, requires_grad=True) for v in (x, w, b))
    y = F.max_pool2d(F.conv2d(xt, wt, bt, **kw), 2, ceil_mode=True)
    (y * y).sum().backward()
    return [v.numpy() for v in (y.detach(), xt.grad, wt.grad, bt.grad)]


@pytest.mark.parametrize("cin", [1, 8])
@pytest.mark.parametrize("kw", [{"padding": 1}, {"stride": 2, "padding": 2, "dilation": 2}])
def test_im2col_in_pieces_matches_whole(monkeypatch, cin, kw):
    # a large im2col matrix is built in pieces and rebuilt in backward instead of being kept
    from chainrule.ops.nn import conv as conv_ops

    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, cin, 9, 8)).astype(np.float32)
    w = rng.standard_normal((6, cin, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    whole = _conv_pool_grads(x, w, b, **kw)
    monkeypatch.setattr(conv_ops, "_KEEP_MAX", 0)
    monkeypatch.setattr(conv_ops, "_CHUNK", 100)  # a piece per image
    pieces = _conv_pool_grads(x, w, b, **kw)
    for a, c in zip(pieces, whole):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)


# ------------------------------------------------ Sequential: ReLU → MaxPool2d as one node


def _cnn(lib, **pool_kw):
    nn_ = lib.nn
    return nn_.Sequential(
        nn_.Conv2d(2, 6, 3, padding=1),
        nn_.ReLU(),
        nn_.MaxPool2d(2),
        nn_.Conv2d(6, 8, 3, padding=1),
        nn_.ReLU(),
        nn_.MaxPool2d(3, **pool_kw),
        nn_.Flatten(),
    )


def _run_cnn(model, x):
    xt = cr.tensor(x, requires_grad=True)
    y = model(xt)
    (y * cr.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)))).sum().backward()
    out = [y.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]
    model.zero_grad()
    return y, out


@pytest.mark.parametrize(
    "pool_kw", [{}, {"stride": 2, "padding": 1, "ceil_mode": True}, {"stride": 1, "dilation": 2}]
)
def test_sequential_relu_pool_fusion_is_exact(pool_kw):
    cr.manual_seed(0)
    model = _cnn(cr, **pool_kw)
    x = np.random.default_rng(9).standard_normal((3, 2, 14, 13)).astype(np.float32)
    x[0, 0, :3, :3] = np.nan  # NaN windows take the same path fused and unfused
    y, fused = _run_cnn(model, x)
    pool = y.grad_fn.next_functions[0][0]  # under the Flatten: one node, no ReLU node
    assert pool.name() == "MaxPool2DWithIndicesBackward0"
    assert pool.next_functions[0][0].name() == "ConvolutionBackward0"
    with cr.nn.fusion(False):
        y2, plain = _run_cnn(model, x)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


def test_sequential_relu_pool_fusion_matches_torch(torch):
    t_model = _cnn(torch, stride=2, padding=1)
    c_model = _cnn(cr, stride=2, padding=1)
    c_model.load_state_dict({k: cr.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
    x = np.random.default_rng(10).standard_normal((2, 2, 11, 10)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    t_model(xt).pow(2).sum().backward()
    xc = cr.tensor(x, requires_grad=True)
    c_model(xc).pow(2).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (_, cp), (_, tp) in zip(c_model.named_parameters(), t_model.named_parameters()):
        np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_sequential_relu_pool_not_fused_when_observable():
    x = cr.tensor(np.random.default_rng(11).standard_normal((1, 2, 6, 6)).astype(np.float32))
    seen = []
    relu = cr.nn.ReLU()
    relu.register_forward_hook(lambda m, i, o: seen.append(o))
    y = cr.nn.Sequential(relu, cr.nn.MaxPool2d(2))(x)
    assert len(seen) == 1  # the hook saw the ReLU output: the pair ran layer by layer
    y_idx, _ = cr.nn.Sequential(cr.nn.ReLU(), cr.nn.MaxPool2d(2, return_indices=True))(x)
    y_inp = cr.nn.Sequential(cr.nn.ReLU(inplace=True), cr.nn.MaxPool2d(2))(x.clone())
    for out in (y_idx, y_inp):
        np.testing.assert_array_equal(out.numpy(), y.numpy())
    # a too-small input raises the unfused path's error
    small = cr.tensor(np.zeros((1, 2, 1, 1), np.float32))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        cr.nn.Sequential(cr.nn.ReLU(), cr.nn.MaxPool2d(2))(small)
