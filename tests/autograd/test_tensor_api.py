"""Tensor API: creation and dtype inference, factories and generators, repr, indexing with
gradients vs torch, and the errors of issue 3's "Bad input" section."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

# ------------------------------------------------------------------ creation


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([1.0, 2.0], cr.float32),
        ([1, 2], cr.int64),
        ([True, False], cr.bool),
        (3.5, cr.float32),
        (3, cr.int64),
        ([[1, 2.5]], cr.float32),
        (np.array([1.0], np.float64), cr.float64),
        (np.array([1], np.int32), cr.int32),
        (np.float64(2.0), cr.float64),
    ],
)
def test_dtype_inference(data, dtype):
    assert cr.tensor(data).dtype == dtype


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3, np.float32)
    t = cr.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 5
    c = cr.tensor(a)
    a[1] = 6
    assert c[1].item() == 0
    assert np.asarray(t) is a or np.shares_memory(np.asarray(t), a)
    assert t.numpy() is a


def test_item_tolist_array():
    t = cr.tensor([[1.5, 2.0]])
    assert t.tolist() == [[1.5, 2.0]]
    assert cr.tensor(2.5).item() == 2.5
    assert isinstance(cr.tensor(3).item(), int)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        t.item()
    assert np.asarray(t).dtype == np.float32


def test_numpy_of_tensor_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="detach"):
        cr.ones(2, requires_grad=True).numpy()


def test_factories_shapes_dtypes_and_requires_grad():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).dtype == cr.float32
    assert cr.ones([4]).shape == (4,)
    assert cr.full((2,), 7).dtype == cr.int64
    assert cr.full((2,), 7.0).dtype == cr.float32
    assert cr.arange(5).dtype == cr.int64 and cr.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert cr.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert cr.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert cr.eye(3).numpy().trace() == 3
    assert cr.zeros_like(cr.ones(2, dtype=cr.float64)).dtype == cr.float64
    assert cr.randn(3, requires_grad=True).requires_grad
    assert cr.randint(0, 10, (5,)).dtype == cr.int64
    assert sorted(cr.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    assert cr.rand(2, 2, dtype=cr.float64).dtype == cr.float64
    assert cr.normal(0.0, 1.0, (3,)).shape == (3,)
    assert cr.empty(2, 2).shape == (2, 2)


def test_same_seed_same_numbers():
    cr.manual_seed(123)
    a = (cr.rand(4), cr.randn(4), cr.randint(0, 100, (4,)), cr.randperm(6), cr.normal(0, 1, (3,)))
    cr.manual_seed(123)
    b = (cr.rand(4), cr.randn(4), cr.randint(0, 100, (4,)), cr.randperm(6), cr.normal(0, 1, (3,)))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not np.array_equal(cr.rand(4).numpy(), a[0].numpy())


def test_generator_determinism_and_independence():
    g1 = cr.Generator().manual_seed(7)
    g2 = cr.Generator().manual_seed(7)
    cr.manual_seed(0)
    x = cr.randn(5, generator=g1)
    cr.randn(100)  # the default generator does not disturb g2
    y = cr.randn(5, generator=g2)
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert g1.initial_seed() == 7


def test_generator_get_set_state_roundtrip():
    g = cr.Generator().manual_seed(3)
    cr.rand(3, generator=g)
    state = g.get_state()
    assert isinstance(state, cr.Tensor) and state.dtype == cr.uint8
    a = cr.rand(5, generator=g)
    g.set_state(state)
    b = cr.rand(5, generator=g)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    s = cr.get_rng_state()
    c = cr.randn(3)
    cr.set_rng_state(s)
    np.testing.assert_array_equal(cr.randn(3).numpy(), c.numpy())
    with pytest.raises(RuntimeError):
        g.set_state(cr.tensor([1, 2, 3], dtype=cr.uint8))


def test_conversions():
    t = cr.tensor([1.7, -2.2])
    assert t.double().dtype == cr.float64
    assert t.long().tolist() == [1, -2]
    assert t.to(cr.int32).dtype == cr.int32
    assert t.to("cpu") is t
    assert t.half().dtype == cr.float16
    assert t.bool().tolist() == [True, True]
    assert t.float() is t


def test_attributes():
    t = cr.zeros(2, 3, 4)
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(-1) == 4 and t.size(1) == 3
    assert t.T.shape == (4, 3, 2) if hasattr(t, "T") else True
    assert cr.zeros(2, 3).T.shape == (3, 2)
    assert t.grad is None and not t.requires_grad and t.is_leaf and t.grad_fn is None


def test_operators_and_reflected():
    a = cr.tensor([1.0, 2.0])
    np.testing.assert_allclose((1 - a).numpy(), [0.0, -1.0])
    np.testing.assert_allclose((2 / a).numpy(), [2.0, 1.0])
    np.testing.assert_allclose((2**a).numpy(), [2.0, 4.0])
    np.testing.assert_allclose((a // 2).numpy(), [0.0, 1.0])
    np.testing.assert_allclose((a % 1.5).numpy(), [1.0, 0.5])
    np.testing.assert_allclose((-a).numpy(), [-1.0, -2.0])
    assert (a == cr.tensor([1.0, 0.0])).tolist() == [True, False]
    assert (a > 1).tolist() == [False, True]
    assert (a <= 1).dtype == cr.bool
    m = cr.ones(2, 2)
    np.testing.assert_allclose((m @ m).numpy(), [[2, 2], [2, 2]])
    np.testing.assert_allclose((np.ones(2) + a).numpy(), [2.0, 3.0])


# ------------------------------------------------------------------ repr


def test_repr_matches_torch_format():
    torch = pytest.importorskip("torch")
    cases = [
        ([1.5, 2.0], {}),
        ([1.0, 2.0], {"requires_grad": True}),
        ([[1, 2], [3, 4]], {}),
        ([True, False], {}),
        (3.25, {}),
        ([0.001, 1000.0], {}),
    ]
    for data, kw in cases:
        c = repr(cr.tensor(data, **kw))
        t = repr(torch.tensor(data, **kw))
        assert c == t, f"{c!r} != {t!r}"
    rng = np.random.default_rng(0)
    arrays = [
        np.arange(2000.0).reshape(40, 50).astype(np.float32),  # summarized, scientific
        rng.standard_normal((3, 4, 5)).astype(np.float32),  # nested, blank lines
        rng.standard_normal(30).astype(np.float32),  # wrapped rows
        rng.standard_normal(2000).astype(np.float32),  # summarized vector
        rng.integers(-100, 100, (10, 12)),
        np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),
        np.array([1e-5, 1.0], np.float32),
        np.zeros((0, 3), np.float32),
        np.zeros((2, 3), np.float32),
        rng.standard_normal((4, 300)).astype(np.float32) * 1000,
    ]
    for a in arrays:
        c = repr(cr.tensor(a))
        t = repr(torch.tensor(a))
        assert c == t, f"\n{c}\n!=\n{t}"
    c = repr(cr.tensor([1.0, 2.0], dtype=cr.float64))
    t = repr(torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert c.replace("chainrule", "torch") == t
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == repr(tx * 2)
    assert repr(x + 2) == repr(tx + 2)
    for f in (
        lambda t: t.square(),
        lambda t: t.log1p(),
        lambda t: t.clamp(0, 1),
        lambda t: t.norm(),
    ):
        assert f(x).grad_fn.name() == f(tx).grad_fn.name()


# ------------------------------------------------------------------ indexing vs torch

_MASK = np.array([True, False, True])
_INDEXES = [
    1,
    -1,
    (slice(None), 2),
    (slice(0, 2), slice(None, None, 2)),
    (Ellipsis, 1),
    (None, 1),
    (1, None, slice(1, 3)),
    _MASK,
    (_MASK, slice(1, 3)),
    [0, 2, 2],
    (np.array([0, 2]), np.array([1, 3])),
    (slice(None), [3, 0]),
    (slice(1, None), Ellipsis, None),
    (np.array([[0, 1], [2, 2]]),),
]


def _torch_index(torch, idx):
    def conv(i):
        return torch.tensor(i) if isinstance(i, np.ndarray) else i

    return tuple(conv(i) for i in idx) if isinstance(idx, tuple) else conv(idx)


@pytest.mark.parametrize("idx", _INDEXES, ids=[str(i) for i in range(len(_INDEXES))])
def test_getitem_values_and_grads_match_torch(idx):
    torch = pytest.importorskip("torch")
    base = np.arange(12.0).reshape(3, 4)
    x = cr.tensor(base, requires_grad=True)
    tx = torch.tensor(base, requires_grad=True)
    y = x[idx]
    ty = tx[_torch_index(torch, idx)]
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = np.arange(1.0, 1.0 + y.numel()).reshape(y.shape)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("idx", _INDEXES[:9], ids=[str(i) for i in range(9)])
def test_setitem_matches_torch(idx):
    torch = pytest.importorskip("torch")
    base = np.arange(12.0).reshape(3, 4)
    x = cr.tensor(base)
    tx = torch.tensor(base)
    x[idx] = -1.0
    tx[_torch_index(torch, idx)] = -1.0
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_basic_index_is_a_view_without_grad():
    x = cr.zeros(3, 4)
    row = x[1]
    row.fill_(2.0)
    assert x.numpy()[1].tolist() == [2.0] * 4


# ------------------------------------------------------------------ bad input


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner sizes 4 and 5"):
        cr.ones(3, 4) @ cr.ones(5, 2)


def test_binary_broadcast_error_names_shapes():
    with pytest.raises(RuntimeError, match=r"tensor a \(3\) must match .* tensor b \(4\)"):
        cr.ones(2, 3) + cr.ones(2, 4)
    with pytest.raises(RuntimeError, match=r"mul: shapes \(2, 3\) and \(4,\)"):
        cr.ones(2, 3, requires_grad=True) * cr.ones(4)


def test_index_out_of_range_is_index_error_naming_index_and_size():
    x = cr.zeros(3, 4)
    with pytest.raises(IndexError, match=r"5.*3|3.*5"):
        x[5]
    with pytest.raises(IndexError, match=r"4"):
        x[0, 4]
    with pytest.raises(IndexError):
        x[cr.tensor([0, 7])]
    with pytest.raises(IndexError):
        cr.index_select(x, 0, cr.tensor([3]))
    with pytest.raises(IndexError):
        cr.gather(x, 1, cr.tensor([[4]]))


def test_float_index_is_type_error():
    x = cr.zeros(3)
    # torch 2.13 raises IndexError for float indices and float index tensors
    with pytest.raises(IndexError):
        x[1.0]
    with pytest.raises(IndexError):
        x[cr.tensor([0.0, 1.0])]
    with pytest.raises(TypeError):
        x[0.5:2]


def test_errors_are_also_torchs_runtime_error():
    # torch raises RuntimeError here; chainrule's IndexError/TypeError subclass it too
    with pytest.raises(RuntimeError, match="out of bounds"):
        cr.gather(cr.ones(3), 0, cr.tensor([5]))
    with pytest.raises(IndexError, match="out of bounds"):
        cr.scatter_add(cr.ones(3), 0, cr.tensor([5]), cr.ones(1))
    with pytest.raises(RuntimeError, match="int32 or int64"):
        cr.index_select(cr.ones(3), 0, cr.tensor([1.0]))
    with pytest.raises(TypeError, match="boolean"):
        cr.where(cr.ones(3), cr.ones(3), cr.ones(3))
    with pytest.raises(RuntimeError, match="boolean"):
        cr.where(cr.ones(3), cr.ones(3), cr.ones(3))
    with pytest.raises(RuntimeError, match="view"):
        cr.ones(3).view(cr.float64)


def test_dim_out_of_range_is_index_error():
    with pytest.raises(IndexError, match="Dimension out of range"):
        cr.ones(2, 3).sum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        cr.ones(2, 3).softmax(-3)


def test_reshape_error_names_shape_and_size():
    with pytest.raises(RuntimeError, match=r"\[4, 2\].*6"):
        cr.ones(2, 3).reshape(4, 2)


def test_cat_error_names_shapes():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)])


def test_errors_change_nothing():
    x = cr.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError):
        x[0:2] = cr.ones(3)
    with pytest.raises(RuntimeError):
        x.add_(cr.ones(2, 3))
    with pytest.raises((RuntimeError, TypeError)):
        x.copy_(cr.ones(4))
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0])
    i = cr.tensor([1, 2])
    with pytest.raises(RuntimeError):
        i.add_(1.5)  # float result can't be cast into an int tensor
    assert i.tolist() == [1, 2]


def test_device_cuda_raises_clearly():
    with pytest.raises(RuntimeError, match="cuda"):
        cr.zeros(2, device="cuda")
    assert not cr.cuda.is_available()


def test_size_slices_and_concatenations_stay_sizes():
    s = cr.zeros(2, 3, 4).shape
    for r in (s[1:], s[::-1], s + (5,), (5,) + s, s * 2, 2 * s):
        assert type(r) is type(s) and repr(r).startswith("torch.Size(")
    assert s[1:] == (3, 4) and s + (5,) == (2, 3, 4, 5) and type(s[0]) is int
    with pytest.raises(TypeError):
        s + [1]  # noqa: RUF005 - torch rejects a list too
