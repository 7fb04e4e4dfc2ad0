# ruff: noqa: E501 - one case per line
"""chainrule.linalg and torch's top-level matrix functions vs torch: values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

RS = np.random.RandomState(0)
SQ = RS.uniform(-1, 1, (3, 3)) + 2 * np.eye(3)
B_SQ = RS.uniform(-1, 1, (2, 3, 3)) + 2 * np.eye(3)
TALL = RS.randn(5, 3)
WIDE = RS.randn(2, 4)
V3 = RS.randn(4, 3)


@pytest.mark.parametrize(
    "f, arrays",
    [
        (lambda m, a: m.linalg.det(a), [SQ]),
        (lambda m, a: m.det(a) + a.det(), [B_SQ]),
        (lambda m, a: m.logdet(a @ a.mT), [SQ]),
        (lambda m, a: m.inverse(a) + a.inverse(), [B_SQ]),
        (lambda m, a: m.linalg.pinv(a), [TALL]),
        (lambda m, a: m.pinverse(a), [WIDE]),
        (
            lambda m, a: (
                m.linalg.matrix_power(a, 3) + m.matrix_power(a, -2) + m.linalg.matrix_power(a, 0)
            ),
            [SQ],
        ),
        (lambda m, a: m.linalg.norm(a), [TALL]),
        (lambda m, a: m.linalg.norm(a, dim=1) + m.linalg.vector_norm(a, ord=1, dim=1), [TALL]),
        (
            lambda m, a: m.linalg.vector_norm(a, ord=float("inf")) + m.linalg.vector_norm(a, 3),
            [TALL],
        ),
        (
            lambda m, a: (
                m.linalg.matrix_norm(a)
                + m.linalg.matrix_norm(a, "nuc")
                + m.linalg.matrix_norm(a, 2)
            ),
            [TALL],
        ),
        (
            lambda m, a: (
                m.linalg.matrix_norm(a, 1)
                + m.linalg.matrix_norm(a, float("inf"))
                + m.linalg.norm(a, -2)
            ),
            [SQ],
        ),
        (lambda m, a, b: m.linalg.cross(a, b) + m.cross(a, b, dim=1), [V3, V3[::-1].copy()]),
        (lambda m, a, b: m.linalg.solve(a, b), [SQ, RS.randn(3)]),
        (lambda m, a, b: m.linalg.solve(a, b), [B_SQ, RS.randn(2, 3)]),
        (lambda m, a, b: m.linalg.solve(a, b, left=False), [SQ, RS.randn(2, 3)]),
        (lambda m, a: m.linalg.eigvalsh(a + a.mT), [B_SQ]),
        (lambda m, a: m.linalg.svdvals(a), [TALL]),
        (lambda m, a: m.cholesky(a @ a.mT + m.eye(3, dtype=a.dtype), upper=True), [SQ]),
        (lambda m, a: m.linalg.multi_dot([a, a.mT, a]), [TALL]),
        (lambda m, a: m.chain_matmul(a, a, a), [SQ]),
    ],
)
@pytest.mark.filterwarnings(
    "ignore:torch.cholesky is deprecated", "ignore:torch.chain_matmul is deprecated"
)
def test_matches_torch(torch, f, arrays):
    ins_c = [cr.tensor(a, requires_grad=True) for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    oc, ot = f(cr, *ins_c), f(torch, *ins_t)
    np.testing.assert_allclose(oc.detach().numpy(), ot.detach().numpy(), rtol=1e-8, atol=1e-10)
    w = np.random.RandomState(1).rand(*ot.shape)
    (oc * cr.tensor(w)).sum().backward()
    (ot * torch.tensor(w)).sum().backward()
    for a, b in zip(ins_c, ins_t):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (3, 3)])
@pytest.mark.parametrize("full", [True, False])
def test_svd_factors(torch, shape, full):
    a = RS.randn(*shape)
    u, s, vh = cr.linalg.svd(cr.tensor(a), full_matrices=full)
    tu, ts, tvh = torch.linalg.svd(torch.tensor(a), full_matrices=full)
    assert u.shape == tuple(tu.shape) and vh.shape == tuple(tvh.shape)
    np.testing.assert_allclose(s.numpy(), ts.numpy(), rtol=1e-10)
    k = min(shape)
    rec = (u[:, :k] * s) @ vh[:k]
    np.testing.assert_allclose(rec.numpy(), a, atol=1e-10)
    np.testing.assert_allclose((u.mT @ u).numpy(), np.eye(u.shape[1]), atol=1e-10)
    U, S, V = cr.svd(cr.tensor(a))
    np.testing.assert_allclose(((U * S) @ V.mT).numpy(), a, atol=1e-10)


def test_eigh_and_cholesky_reconstruct():
    a = cr.tensor(SQ @ SQ.T)
    w, v = cr.linalg.eigh(a)
    np.testing.assert_allclose(((v * w) @ v.mT).numpy(), a.numpy(), atol=1e-10)
    low = cr.linalg.cholesky(a)
    np.testing.assert_allclose((low @ low.mT).numpy(), a.numpy(), atol=1e-10)
    assert np.allclose(np.triu(low.numpy(), 1), 0)


def test_errors():
    with pytest.raises(cr.linalg.LinAlgError, match="singular"):
        cr.linalg.inv(cr.zeros(2, 2))
    with pytest.raises(RuntimeError, match="square"):
        cr.linalg.inv(cr.zeros(2, 3))
    with pytest.raises(cr.linalg.LinAlgError, match="positive-definite"):
        cr.linalg.cholesky(-cr.eye(2))
    with pytest.raises(RuntimeError, match="length 3"):
        cr.linalg.cross(cr.zeros(4), cr.zeros(4))
    assert cr.linalg.det(cr.zeros(2, 2)).item() == 0.0


@pytest.mark.parametrize(
    "name, arrays",
    [
        ("expit", [TALL]),
        ("erfc", [TALL]),
        ("exp2", [TALL]),
        ("expm1", [TALL]),
        ("log1p", [np.abs(TALL)]),
        ("ndtr", [TALL]),
        ("log_ndtr", [TALL]),
        ("sinc", [np.concatenate([TALL.ravel(), [0.0]])]),
        ("entr", [np.abs(TALL)]),
        (
            "xlogy",
            [np.concatenate([TALL.ravel(), [0.0]]), np.abs(np.concatenate([TALL.ravel(), [1.0]]))],
        ),
        ("xlog1py", [TALL, np.abs(TALL)]),
        ("logit", [np.clip(np.abs(TALL) / 3, 0.05, 0.95)]),
    ],
)
def test_special_matches_torch(torch, name, arrays):
    ins_c = [cr.tensor(a, requires_grad=True) for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    oc, ot = getattr(cr.special, name)(*ins_c), getattr(torch.special, name)(*ins_t)
    np.testing.assert_allclose(oc.detach().numpy(), ot.detach().numpy(), rtol=1e-8, atol=1e-12)
    oc.sum().backward()
    ot.sum().backward()
    for a, b in zip(ins_c, ins_t):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_special_edge_values():
    assert cr.special.entr(cr.tensor([0.0, -1.0])).tolist() == [0.0, float("-inf")]
    assert cr.special.sinc(cr.tensor(0.0)).item() == 1.0
    assert cr.special.xlogy(cr.tensor(0.0), cr.tensor(0.0)).item() == 0.0
