# ruff: noqa: E501 - the loss cases read best one per line
"""The nn layers and functions added for ported scripts, vs torch: resizing, pixel shuffle,
padding layers, distances, instance norm, metric-learning and probabilistic losses."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

RS = np.random.RandomState(0)


def _check(torch, f, arrays, grad=True, rtol=1e-9, const=()):
    """f(lib, *tensors) under both libraries: values and input gradients agree (inputs listed in
    ``const``, such as targets, do not require grad)."""

    def rg(i, a):
        return grad and a.dtype == np.float64 and i not in const

    ours_in = [cr.tensor(a, requires_grad=rg(i, a)) for i, a in enumerate(arrays)]
    ref_in = [torch.tensor(a, requires_grad=rg(i, a)) for i, a in enumerate(arrays)]
    ours, ref = f(cr, *ours_in), f(torch, *ref_in)
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=1e-10)
    if grad:
        w = np.random.RandomState(1).rand(*ref.shape)
        (ours * cr.tensor(w)).sum().backward()
        (ref * torch.tensor(w)).sum().backward()
        for a, b in zip(ours_in, ref_in):
            if b.requires_grad:  # no gradient (a target only compared) counts as zeros
                ga = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
                gb = np.zeros(b.shape) if b.grad is None else b.grad.numpy()
                np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-10)


X3 = RS.randn(2, 3, 5)
X4 = RS.randn(2, 3, 4, 5)
X5 = RS.randn(1, 2, 3, 4, 2)


@pytest.mark.parametrize(
    "x, kw",
    [
        (X4, {"scale_factor": 2}),
        (X4, {"size": (7, 3)}),
        (X4, {"scale_factor": 1.7, "mode": "nearest-exact"}),
        (X4, {"scale_factor": 2, "mode": "bilinear"}),
        (X4, {"size": (3, 8), "mode": "bilinear", "align_corners": True}),
        (X4, {"scale_factor": (1.5, 0.5), "mode": "bilinear", "align_corners": False}),
        (X4, {"size": (6, 7), "mode": "bicubic"}),
        (X4, {"scale_factor": 2, "mode": "bicubic", "align_corners": True}),
        (X4, {"size": (2, 3), "mode": "area"}),
        (X3, {"scale_factor": 3, "mode": "linear"}),
        (X3, {"size": 4, "mode": "linear", "align_corners": True}),
        (X3, {"size": 8}),
        (X5, {"scale_factor": 2, "mode": "trilinear"}),
        (X5, {"size": (2, 5, 3), "mode": "nearest"}),
    ],
)
def test_interpolate(torch, x, kw):
    _check(torch, lambda m, t: m.nn.functional.interpolate(t, **kw), [x])


def test_upsample_layers(torch):
    for build in [
        lambda m: m.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        lambda m: m.nn.Upsample(size=(5, 9)),
        lambda m: m.nn.UpsamplingNearest2d(scale_factor=3),
        lambda m: m.nn.UpsamplingBilinear2d(size=(6, 6)),
    ]:
        _check(torch, lambda m, t, build=build: build(m)(t), [X4])
        assert repr(build(cr)) == repr(build(torch))


def test_interpolate_errors():
    F = cr.nn.functional
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(cr.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(cr.zeros(1, 1, 4, 4), scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="4D"):
        F.interpolate(cr.zeros(1, 1, 4), scale_factor=2, mode="bilinear")


def test_pixel_shuffle(torch):
    x = RS.randn(2, 8, 3, 4)
    _check(torch, lambda m, t: m.nn.functional.pixel_shuffle(t, 2), [x])
    _check(torch, lambda m, t: m.nn.PixelUnshuffle(2)(m.nn.PixelShuffle(2)(t)), [x])
    _check(torch, lambda m, t: m.nn.functional.pixel_unshuffle(t, 2), [RS.randn(1, 2, 4, 6)])
    with pytest.raises(RuntimeError, match="divisible"):
        cr.nn.functional.pixel_shuffle(cr.zeros(1, 3, 2, 2), 2)


@pytest.mark.parametrize("kind", ["Zero", "Constant", "Reflection", "Replication", "Circular"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_padding_layers(torch, kind, n):
    x = RS.randn(*(2, 3, 4, 5, 6)[: n + 2])
    pad = (1, 2, 2, 0, 1, 1)[: 2 * n]
    args = (pad, 1.5) if kind == "Constant" else (pad,)

    def build(m):
        return getattr(m.nn, f"{kind}Pad{n}d")(*args)

    _check(torch, lambda m, t: build(m)(t), [x])
    assert repr(build(cr)) == repr(build(torch))
    assert repr(getattr(cr.nn, f"{kind}Pad{n}d")(1, *args[1:])) == repr(
        getattr(torch.nn, f"{kind}Pad{n}d")(1, *args[1:])
    )


def test_distances(torch):
    a, b = RS.randn(4, 5), RS.randn(4, 5)
    _check(torch, lambda m, x, y: m.nn.PairwiseDistance()(x, y), [a, b])
    _check(torch, lambda m, x, y: m.nn.PairwiseDistance(p=1, keepdim=True)(x, y), [a, b])
    _check(torch, lambda m, x, y: m.nn.functional.pairwise_distance(x, y, 3.0), [a, b])
    _check(torch, lambda m, x, y: m.nn.CosineSimilarity(dim=0)(x, y), [a, b])


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
def test_instance_norm(torch, affine, track):
    ref = torch.nn.InstanceNorm2d(3, affine=affine, track_running_stats=track).double()
    ours = cr.nn.InstanceNorm2d(3, affine=affine, track_running_stats=track).double()
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    if affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
            ref.bias.uniform_(-1, 1)
        ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    for train in (True, False):
        ref.train(train)
        ours.train(train)
        _check(torch, lambda m, t: (ref if m is torch else ours)(t), [X4 * 2 + 1])
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-9, err_msg=k)
    _check(torch, lambda m, t: m.nn.InstanceNorm1d(3)(t), [X3])
    _check(torch, lambda m, t: m.nn.functional.instance_norm(t), [X5])


Y = RS.choice([-1.0, 1.0], size=6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses(torch, reduction):
    r = reduction
    a, b, c = RS.randn(6, 4), RS.randn(6, 4), RS.randn(6, 4)
    s1, s2 = RS.randn(6), RS.randn(6)
    _check(
        torch,
        lambda m, x, y, t: m.nn.MarginRankingLoss(0.3, reduction=r)(x, y, t),
        [s1, s2, Y],
        const=(2,),
    )
    _check(
        torch, lambda m, x, t: m.nn.HingeEmbeddingLoss(0.5, reduction=r)(x, t), [s1, Y], const=(1,)
    )
    _check(torch, lambda m, x, t: m.nn.SoftMarginLoss(reduction=r)(x, t), [s1, Y], const=(1,))
    multi = (RS.rand(6, 4) > 0.5) * 1.0
    _check(
        torch,
        lambda m, x, t: m.nn.MultiLabelSoftMarginLoss(reduction=r)(x, t),
        [a, multi],
        const=(1,),
    )
    _check(
        torch,
        lambda m, x, y, t: m.nn.CosineEmbeddingLoss(0.1, reduction=r)(x, y, t),
        [a, b, Y],
        const=(2,),
    )
    for kw in ({}, {"swap": True, "p": 1.0, "margin": 0.5}):
        _check(
            torch,
            lambda m, x, y, z, kw=kw: m.nn.TripletMarginLoss(reduction=r, **kw)(x, y, z),
            [a, b, c],
        )
    var = RS.rand(6, 4) + 0.1
    _check(torch, lambda m, x, y, v: m.nn.GaussianNLLLoss(reduction=r)(x, y, v), [a, b, var])
    _check(
        torch,
        lambda m, x, y, v: m.nn.GaussianNLLLoss(full=True, reduction=r)(x, y, v),
        [a, b, var[:, :1]],
    )
    counts = RS.poisson(3, (6, 4)) * 1.0
    _check(torch, lambda m, x, t: m.nn.PoissonNLLLoss(reduction=r)(x, t), [a, counts], const=(1,))
    _check(
        torch,
        lambda m, x, t: m.nn.PoissonNLLLoss(log_input=False, full=True, reduction=r)(x, t),
        [var, counts],
        const=(1,),
    )


def test_gumbel_softmax():
    cr.manual_seed(0)
    logits = cr.tensor([[1.0, 2.0, 0.5]] * 2000, requires_grad=True)
    y = cr.nn.functional.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(y.sum(-1).detach().numpy(), 1.0, rtol=1e-6)
    hard = cr.nn.functional.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard.detach().numpy())) <= {0.0, 1.0}
    freq = hard.detach().numpy().mean(0)
    np.testing.assert_allclose(freq, np.exp([1, 2, 0.5]) / np.exp([1, 2, 0.5]).sum(), atol=0.04)
    (hard[:, 0]).sum().backward()
    assert logits.grad is not None and np.abs(logits.grad.numpy()).sum() > 0
