# ruff: noqa: E501 - the case tables read best one case per line
"""torch functions and methods that ported scripts call (chainrule/_compat.py): values and
gradients against torch, errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

RS = np.random.RandomState(0)
A = RS.uniform(-2, 2, (3, 4))
SQ = RS.uniform(-2, 2, (4, 4))
B3 = RS.uniform(-2, 2, (2, 3, 4))
POS = RS.uniform(0.2, 3, (3, 4))
UNIT = RS.uniform(-0.9, 0.9, (3, 4))
V4 = RS.uniform(-2, 2, (4,))
M34 = RS.uniform(-2, 2, (3, 4))
M45 = RS.uniform(-2, 2, (4, 5))
IDX = np.array([[0, 2, 1, 0], [1, 0, 2, 2]])


def _case(name, f, *arrays, grad=True):
    return pytest.param(f, arrays, grad, id=name)


# f(mod, *tensors) is called with mod = chainrule and mod = torch
CASES = [
    _case("tan", lambda m, x: m.tan(x), UNIT),
    _case("asin", lambda m, x: m.asin(x), UNIT),
    _case("acos", lambda m, x: x.acos(), UNIT),
    _case("atan", lambda m, x: m.arctan(x), A),
    _case("atan2", lambda m, y, x: m.atan2(y, x), A, POS),
    _case("sinh-cosh", lambda m, x: m.sinh(x) + x.cosh(), A),
    _case("expm1-small", lambda m, x: m.expm1(x * 1e-6), A),
    _case("exp2", lambda m, x: m.exp2(x), A),
    _case("log2-log10", lambda m, x: m.log2(x) + x.log10(), POS),
    _case("cumprod", lambda m, x: m.cumprod(x, dim=1), A),
    _case("cumprod-zero", lambda m, x: m.cumprod(x * (x > -1), 0), A),
    _case("addmm", lambda m, x, a, b: m.addmm(x, a, b, beta=0.5, alpha=2), RS.rand(3, 5), M34, M45),
    _case("addmv", lambda m, x, a, v: m.addmv(x, a, v), RS.rand(3), M34, V4),
    _case("baddbmm", lambda m, x, a, b: m.baddbmm(x, a, b), RS.rand(2, 3, 3), B3, B3.transpose(0, 2, 1)),
    _case("addbmm", lambda m, x, a, b: m.addbmm(x, a, b), RS.rand(3, 3), B3, B3.transpose(0, 2, 1)),
    _case("addcmul-addcdiv", lambda m, x, a, b: m.addcmul(x, a, b, value=0.5) + m.addcdiv(x, a, b), A, M34, POS),
    _case("lerp", lambda m, x, y: m.lerp(x, y, 0.3) + x.lerp(y, m.full_like(x, 0.7)), A, M34),
    _case("clamp_min-max", lambda m, x: m.clamp_min(x, -0.5) + x.clamp_max(0.5), A),
    _case("clamp-tensor", lambda m, x, lo: m.clamp(x, min=lo, max=lo + 1), A, M34),
    _case("logit", lambda m, x: m.logit(x, eps=1e-3), RS.uniform(0.05, 0.95, (3, 4))),
    _case("xlogy", lambda m, x, y: m.xlogy(x * (x > 0), y), A, POS),
    _case("logaddexp", lambda m, x, y: m.logaddexp(x, y), A, M34),
    _case("frac-deg2rad", lambda m, x: m.frac(x) + m.deg2rad(x) + x.rad2deg(), A),
    _case("float_power", lambda m, x: m.float_power(x, 2), A),
    _case("diag-vector", lambda m, v: m.diag(v) + m.diag(v, 0), V4),
    _case("diag-offset", lambda m, v: m.diag(v, 1) + m.diag(v, -1).t(), V4),
    _case("diag-matrix", lambda m, x: m.diag(x, 1) * 2 + m.diag(x, -1).sum(), SQ),
    _case("diagonal", lambda m, x: m.diagonal(x, 1, 1, 2), B3),
    _case("diag_embed", lambda m, x: m.diag_embed(x, offset=-1), M34),
    _case("trace", lambda m, x: m.trace(x) + x.trace(), M34),
    _case("masked_select", lambda m, x: m.masked_select(x, x > 0), A),
    _case("take", lambda m, x: m.take(x, m.tensor([[0, 5], [11, -1]])), A),
    _case("take_along_dim", lambda m, x: m.take_along_dim(x, m.argsort(x, 1), 1), A),
    _case("select", lambda m, x: m.select(x, 1, -1) + x.select(0, 1)[:3].sum(), A),
    _case("index_add", lambda m, x, s: m.index_add(x, 1, m.tensor([0, 2, 2]), s, alpha=2), A, RS.rand(3, 3)),
    _case("index_copy", lambda m, x, s: x.index_copy(0, m.tensor([2, 0]), s), A, RS.rand(2, 4)),
    _case("scatter-src", lambda m, x, s: m.scatter(x, 0, m.tensor(IDX[:, :3]), s), A, RS.rand(2, 3)),
    _case("scatter-value", lambda m, x: x.scatter(1, m.tensor(IDX[:, :2].T % 3), 7.0), A),
    _case("scatter-reduce-add", lambda m, x, s: m.scatter(x, 0, m.tensor(IDX), 2.0, reduce="add") + s.sum(), A, RS.rand(2, 4), grad=False),
    _case("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2, dim=0) * 1, A),
    _case("repeat_interleave-tensor", lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0), A),
    _case("repeat_interleave-flat", lambda m, x: m.repeat_interleave(x, 2), A),
    _case("tile", lambda m, x: m.tile(x, (2,)) + 0, A),
    _case("tile-more", lambda m, x: x.tile(2, 1, 1), A),
    _case("ravel-moveaxis", lambda m, x: m.ravel(m.moveaxis(x, 0, -1)), B3),
    _case("fliplr-flipud", lambda m, x: m.fliplr(x) + m.flipud(x), A),
    _case("rot90", lambda m, x: m.rot90(x, 1, (0, 1)).sum(0) + m.rot90(x, 3)[0] + m.rot90(x, 2).sum(0)[:3], A),
    _case("column_stack", lambda m, v, x: m.column_stack([v[:3], x]), V4, A),
    _case("dstack", lambda m, x, y: m.dstack([x, y]), A, M34),
    _case("atleast", lambda m, v: m.atleast_2d(v).sum(0) + m.atleast_3d(v).reshape(-1), V4),
    _case("broadcast_tensors", lambda m, x, v: m.stack(m.broadcast_tensors(x, v)), A, V4),
    _case("meshgrid-ij", lambda m, x, y: m.stack(m.meshgrid(x, y, indexing="ij")), V4, V4[:3]),
    _case("meshgrid-xy", lambda m, x, y: m.stack(m.meshgrid(x, y, indexing="xy")), V4, V4[:3]),
    _case("cartesian_prod", lambda m, x, y: m.cartesian_prod(x, y), V4, V4[:2]),
    _case("block_diag", lambda m, x, y: m.block_diag(x, y), A, RS.rand(2, 2)),
    _case("tensordot", lambda m, x, y: m.tensordot(x, y, dims=([1, 2], [1, 0])), B3, RS.rand(4, 3, 2)),
    _case("tensordot-int", lambda m, x, y: m.tensordot(x, y, 1), B3, M45),
    _case("inner", lambda m, x, y: m.inner(x, y), A, M34),
    _case("dist", lambda m, x, y: m.dist(x, y) + m.dist(x, y, 1), A, M34),
    _case("cdist", lambda m, x, y: m.cdist(x, y), A, RS.rand(5, 4)),
    _case("cdist-p1", lambda m, x, y: m.cdist(x, y, p=1), A, RS.rand(5, 4)),
    _case("cosine_similarity", lambda m, x, y: m.cosine_similarity(x, y, dim=1), A, M34),
    _case("F.cosine_similarity", lambda m, x, y: m.nn.functional.cosine_similarity(x, y, dim=-1), A, V4),
    _case("pairwise_distance", lambda m, x, y: m.pairwise_distance(x, y), A, M34),
    _case("diff", lambda m, x: m.diff(x, dim=1) + 0, A),
    _case("diff-n2-prepend", lambda m, x, p: m.diff(x, n=2, dim=0, prepend=p), A, RS.rand(1, 4)),
    _case("nan_to_num", lambda m, x: m.nan_to_num(x / (x > 0), nan=0.0, posinf=9.0), A, grad=False),
    _case("nansum-nanmean", lambda m, x: m.nansum(x.log()) + m.nanmean(x.log(), 1).sum(), A, grad=False),
    _case("median", lambda m, x: m.median(x), A),
    _case("median-dim", lambda m, x: m.stack([m.median(x, 1).values, x.median(1)[1].to(x.dtype)]), A),
    _case("median-even", lambda m, x: m.median(x, 0, keepdim=True).values, RS.rand(4, 3)),
    _case("kthvalue", lambda m, x: m.kthvalue(x, 2, 1).values + x.kthvalue(3, 1)[1], A),
    _case("quantile", lambda m, x: m.quantile(x, 0.3), A),
    _case("quantile-dim", lambda m, x: m.quantile(x, m.tensor([0.25, 0.5, 1.0], dtype=x.dtype), dim=1, keepdim=True), A),
    _case("quantile-nearest", lambda m, x: m.quantile(x, 0.4, dim=0, interpolation="nearest"), A),
    _case("cov-corrcoef", lambda m, x: m.cov(x) + m.corrcoef(x), A),
    _case("rsub", lambda m, x, y: m.rsub(x, y) + m.rsub(x, 2.0), A, M34),
    _case("unfold", lambda m, x: x.unfold(1, 2, 1), A),
    _case("unfold-step", lambda m, x: x.unfold(0, 2, 2), RS.rand(5, 2)),
    _case("sum_to_size", lambda m, x: x.sum_to_size(1, 4) + x.sum_to_size(3, 1).sum(), A),
    _case("index_put", lambda m, x, v: x.index_put((m.tensor([0, 2]),), v), A, RS.rand(4)),
    _case("index_put-acc", lambda m, x, v: x.index_put((m.tensor([0, 0]), m.tensor([1, 1])), v, accumulate=True), A, RS.rand(2)),
    _case("masked_scatter", lambda m, x, s: x.masked_scatter(x > 0, s), A, RS.rand(12), grad=False),
    _case("hypot", lambda m, x, y: m.hypot(x, y), A, M34),
    _case("diagflat", lambda m, x: m.diagflat(x, 1) + 0, RS.rand(2, 2)),
    _case("kron", lambda m, x, y: m.kron(x, y), A, RS.rand(2, 2)),
    _case("kron-ranks", lambda m, x, y: m.kron(x, y), V4, B3),
    _case("trapezoid", lambda m, y: m.trapezoid(y) + m.trapz(y, dx=0.5), A),
    _case("trapezoid-x", lambda m, y, x: m.trapezoid(y, x, dim=0), A, RS.rand(3)),
    _case("logcumsumexp", lambda m, x: m.logcumsumexp(x * 30, 1), A),
    _case("cummax", lambda m, x: m.cummax(x, 1).values + m.cummax(x, 1).indices, A),
    _case("cummin", lambda m, x: m.cummin(x, 0).values * m.cummin(x, 0).indices, A),
    _case("mode", lambda m, x: m.mode(x, 1).values + m.mode(x, 1).indices + m.mode(x, 0, True)[0].sum(), np.round(A)),
    _case("vander", lambda m, x: m.vander(x) + m.vander(x, 2, increasing=True).sum(), V4, grad=False),  # torch's own backward fails here
    _case("selu-celu", lambda m, x: m.selu(x) + m.celu(x, 0.5) + m.threshold(x, 0.1, 2.0) + m.hardshrink(x), A),
]  # fmt: skip


@pytest.mark.parametrize("f, arrays, grad", CASES)
def test_matches_torch(torch, f, arrays, grad):
    ours_in = [cr.tensor(a, requires_grad=grad) for a in arrays]
    ref_in = [torch.tensor(a, requires_grad=grad) for a in arrays]
    ours, ref = f(cr, *ours_in), f(torch, *ref_in)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    if grad and ref.requires_grad:
        w = np.random.RandomState(1).rand(*ref.shape)
        (ours * cr.tensor(w)).sum().backward()
        (ref * torch.tensor(w)).sum().backward()
        for a, b in zip(ours_in, ref_in):
            gb = np.zeros(b.shape) if b.grad is None else b.grad.numpy()
            ga = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
            np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-12)


def test_float32_stays_float32(torch):
    x = cr.tensor(A, dtype=cr.float32)
    for f in (cr.tan, cr.atan, cr.log2, cr.expm1, lambda t: cr.cumprod(t, 1), cr.diag, cr.trace):
        assert f(x if f is not cr.diag else x[0]).dtype == cr.float32
    assert cr.log2(cr.tensor([1, 8])).dtype == cr.float32  # ints promote to the default dtype
    assert cr.cumprod(cr.tensor([1, 2, 3]), 0).tolist() == [1, 2, 6]
    assert cr.trace(cr.tensor([[1, 2], [3, 4]])).dtype == cr.int64


def test_in_place_variants(torch):
    for name, args in [
        ("clamp_min_", (0.0,)), ("clamp_max_", (0.0,)), ("log2_", ()), ("tan_", ()),
        ("tril_", ()), ("triu_", (1,)), ("sin_", ()), ("lerp_", (cr.ones(3, 4, dtype=cr.float64), 0.5)),
        ("index_add_", (0, cr.tensor([0, 2]), cr.ones(2, 4, dtype=cr.float64))), ("scatter_", (1, cr.tensor(IDX[:, :3]).T, 5.0)),
        ("nan_to_num_", ()), ("fill_diagonal_", (3.0,)), ("t_", ()), ("unsqueeze_", (0,)),
        ("eq_", (1.0,)), ("gt_", (cr.ones(3, 4, dtype=cr.float64),)), ("hypot_", (cr.ones(3, 4, dtype=cr.float64),)),
    ]:  # fmt: skip
        x = cr.tensor(POS)
        y = torch.tensor(POS)
        tx = [a if not isinstance(a, cr.Tensor) else torch.tensor(a.numpy()) for a in args]
        out = getattr(x, name)(*args)
        getattr(y, name)(*tx)
        assert out is x, name
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-12, err_msg=name)


def test_multinomial_distribution_and_errors():
    cr.manual_seed(0)
    w = cr.tensor([0.0, 1.0, 3.0])  # unnormalised weights
    draws = cr.multinomial(w, 4000, replacement=True)
    assert draws.dtype == cr.int64 and draws.shape == (4000,)
    freq = np.bincount(draws.numpy(), minlength=3) / 4000
    np.testing.assert_allclose(freq, [0, 0.25, 0.75], atol=0.03)
    rows = cr.multinomial(cr.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]), 1)
    assert rows.shape == (2, 1) and rows[1, 0].item() == 2 and rows[0, 0].item() in (0, 1)
    no_rep = cr.multinomial(cr.tensor([1.0, 2.0, 3.0, 4.0]), 4)
    assert sorted(no_rep.tolist()) == [0, 1, 2, 3]
    # without replacement, heavier categories come first more often
    firsts = [cr.multinomial(cr.tensor([1.0, 9.0]), 1).item() for _ in range(400)]
    assert 0.85 < np.mean(firsts) < 0.95
    g = cr.Generator().manual_seed(3)
    a = cr.multinomial(w, 5, True, generator=g)
    g.manual_seed(3)
    assert cr.equal(a, w.multinomial(5, True, generator=g))
    with pytest.raises(RuntimeError, match="element < 0"):
        cr.multinomial(cr.tensor([-1.0, 2.0]), 1)
    with pytest.raises(RuntimeError, match="without replacement"):
        cr.multinomial(cr.tensor([1.0, 2.0]), 3)
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        cr.multinomial(cr.tensor([0.0, 0.0]), 1)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        cr.multinomial(cr.ones(2, 2, 2), 1)


def test_random_helpers():
    cr.manual_seed(0)
    b = cr.bernoulli(cr.full((1000,), 0.3))
    assert b.dtype == cr.float32 and 0.25 < b.mean().item() < 0.35
    assert set(cr.tensor(POS).bernoulli(0.5).unique().tolist()) <= {0.0, 1.0}
    p = cr.poisson(cr.full((500,), 4.0))
    assert abs(p.mean().item() - 4) < 0.4
    r = cr.randint_like(cr.zeros(3, 4), 5)
    assert (
        r.shape == (3, 4) and r.dtype == cr.float32 and r.min().item() >= 0 and r.max().item() < 5
    )
    with pytest.raises(RuntimeError):
        cr.bernoulli(cr.tensor([1.5]))


def test_index_helpers_match_torch(torch):
    v = np.array([3, 1, 2, 3, 3, 0, 1])
    for f in [
        lambda m: m.tril_indices(4, 3, -1),
        lambda m: m.triu_indices(3, 5, 1),
        lambda m: m.bincount(m.tensor(v), minlength=6),
        lambda m: m.bincount(m.tensor(v), weights=m.tensor(v * 0.5)),
        lambda m: m.bucketize(m.tensor([0.5, 1.0, 2.5, 9.0]), m.tensor([1.0, 2.0, 3.0])),
        lambda m: m.bucketize(m.tensor([0.5, 1.0, 2.5]), m.tensor([1.0, 2.0, 3.0]), right=True),
        lambda m: m.searchsorted(m.tensor([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]), m.tensor([[3.0], [7.0]])),
        lambda m: m.histc(m.tensor([1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=4),
        lambda m: m.unique(m.tensor(v)),
        lambda m: m.unique(m.tensor(v), return_inverse=True, return_counts=True)[1],
        lambda m: m.unique(m.tensor(v), return_counts=True)[1],
        lambda m: m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0),
        lambda m: m.unique_consecutive(m.tensor(v[[0, 0, 1, 1, 2]]), return_counts=True)[1],
        lambda m: m.unique_consecutive(m.tensor([1, 1, 2, 2, 3, 1]), return_inverse=True)[1],
        lambda m: m.isin(m.tensor(v), m.tensor([1, 3])),
        lambda m: m.signbit(m.tensor([-0.0, 0.0, -1.0])),
        lambda m: m.heaviside(m.tensor([-1.0, 0.0, 2.0]), m.tensor(0.5)),
        lambda m: m.logspace(0, 2, 3),
        lambda m: m.logspace(-1, 1, 5, base=2),
        lambda m: m.tensor(v).diff(),
        lambda m: m.tensor([True, False, False]).diff(),
    ]:  # fmt: skip
        ours, ref = f(cr), f(torch)
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)


def test_process_level_knobs(torch):
    assert cr.finfo(cr.float32).eps == torch.finfo(torch.float32).eps
    assert cr.finfo(cr.float64).max == torch.finfo(torch.float64).max
    assert cr.finfo(cr.float16).tiny == torch.finfo(torch.float16).tiny
    assert cr.finfo().eps == torch.finfo().eps
    assert cr.iinfo(cr.int64).max == torch.iinfo(torch.int64).max
    assert cr.iinfo(cr.uint8).min == 0
    with pytest.raises(TypeError):
        cr.finfo(cr.int64)
    s = cr.Size([2, 3])
    assert s == (2, 3) and s.numel() == 6 and repr(s) == "torch.Size([2, 3])"
    n = cr.get_num_threads()
    cr.set_num_threads(1)
    assert cr.get_num_threads() == 1
    cr.set_num_threads(n)
    model = cr.nn.Linear(2, 2)
    assert cr.compile(model) is model
    assert cr.compile(mode="reduce-overhead")(model) is model

    @cr.compile
    def f(x):
        return x * 2

    assert f(cr.tensor(2.0)).item() == 4.0
    cr.use_deterministic_algorithms(True)
    assert cr.are_deterministic_algorithms_enabled()
    cr.use_deterministic_algorithms(False)
    cr.set_float32_matmul_precision("high")
    assert cr.get_float32_matmul_precision() == "high"
    cr.set_float32_matmul_precision("highest")
    cr.set_printoptions(precision=4, sci_mode=False)
    assert not cr.is_inference_mode_enabled()
    with cr.inference_mode():
        assert cr.is_inference_mode_enabled()
    assert cr.typename(cr.zeros(1)) == "torch.FloatTensor"
    assert cr.can_cast(cr.int64, cr.float32) and not cr.can_cast(cr.float32, cr.int32)
    assert not cr.is_complex(cr.zeros(1)) and not cr.is_storage(1)
    assert cr.is_nonzero(cr.tensor([1.5])) and not cr.is_nonzero(cr.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        cr.is_nonzero(cr.ones(2))
    assert cr.is_same_size(cr.zeros(2, 3), cr.ones(2, 3))


def test_tensor_layout_queries(torch):
    x = cr.zeros(2, 3, 4)
    assert x.stride() == torch.zeros(2, 3, 4).stride() and x.stride(1) == 4
    assert x.is_contiguous() and x.t_ if False else True
    assert x.nbytes == 96 and x.pin_memory() is x and not x.is_pinned()
    assert x.share_memory_() is x and not x.is_shared()
    assert x.data_ptr() == x.data.data_ptr()  # .data shares storage
    assert x.bfloat16().dtype == cr.bfloat16 and x.char().dtype == cr.int8
    assert x.new(2, 2).shape == (2, 2) and x.new([1, 2]).dtype == cr.float32
    y = cr.tensor([1.0, 2.0])
    y.apply_(lambda v: v * 10)
    assert y.tolist() == [10.0, 20.0]
    y.map_(cr.tensor([1.0, 1.0]), lambda a, b: a + b)
    assert y.tolist() == [11.0, 21.0]


def test_bad_input():
    with pytest.raises(RuntimeError, match="1D or 2D"):
        cr.diag(cr.zeros(2, 2, 2))
    with pytest.raises(RuntimeError, match="trace"):
        cr.trace(cr.zeros(3))
    with pytest.raises(IndexError, match="out of range"):
        cr.select(cr.zeros(2, 3), 1, 3)
    with pytest.raises(RuntimeError, match="out of bounds"):
        cr.scatter(cr.zeros(2, 3), 1, cr.tensor([[3]]), 1.0)
    with pytest.raises(RuntimeError, match="q values"):
        cr.quantile(cr.zeros(3), 1.5)
    with pytest.raises(RuntimeError, match="size"):
        cr.zeros(3).unfold(0, 4, 1)
    with pytest.raises(RuntimeError, match="requires grad"):
        cr.zeros(2, 3, requires_grad=True).t_()
    with pytest.raises(RuntimeError, match="non-negative"):
        cr.bincount(cr.tensor([-1, 2]))
