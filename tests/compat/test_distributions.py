# ruff: noqa: E501 - one case per line
"""chainrule.distributions vs torch.distributions: log_prob, entropy, KL, moments and their
gradients; sampling frequencies; errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

RS = np.random.RandomState(0)
LOGITS = RS.randn(3, 4)
PROBS = RS.rand(3, 4) + 0.05
LOC, SCALE = RS.randn(3), RS.rand(3) + 0.5


def _pair(torch, f, *arrays):
    ins_c = [cr.tensor(a, requires_grad=True) for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    oc, ot = f(cr, *ins_c), f(torch, *ins_t)
    np.testing.assert_allclose(oc.detach().numpy(), ot.detach().numpy(), rtol=1e-9, atol=1e-12)
    oc.sum().backward()
    ot.sum().backward()
    for a, b in zip(ins_c, ins_t):
        ga = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
        gb = np.zeros(b.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-12)


V = np.array([0, 3, 1])


@pytest.mark.parametrize(
    "f, arrays",
    [
        (lambda m, lg: m.distributions.Categorical(logits=lg).log_prob(m.tensor(V)), [LOGITS]),
        (lambda m, p: m.distributions.Categorical(probs=p).log_prob(m.tensor(V)), [PROBS]),
        (lambda m, p: m.distributions.Categorical(probs=p).log_prob(m.tensor([[1], [2]])), [PROBS]),
        (lambda m, lg: m.distributions.Categorical(logits=lg).entropy(), [LOGITS]),
        (lambda m, p: m.distributions.Categorical(p).probs, [PROBS]),
        (lambda m, p, q: m.distributions.kl_divergence(m.distributions.Categorical(p), m.distributions.Categorical(q)), [PROBS, PROBS[::-1].copy()]),
        (lambda m, lg: m.distributions.OneHotCategorical(logits=lg).log_prob(m.eye(4, dtype=m.float64)[:3]), [LOGITS]),
        (lambda m, lg: m.distributions.Bernoulli(logits=lg).log_prob(m.tensor((LOGITS > 0) * 1.0)), [LOGITS]),
        (lambda m, lg: m.distributions.Bernoulli(logits=lg).entropy(), [LOGITS]),
        (lambda m, p: m.distributions.Bernoulli(probs=p / 2).log_prob(m.tensor((LOGITS > 0) * 1.0)), [PROBS]),
        (lambda m, a, b: m.distributions.kl_divergence(m.distributions.Bernoulli(logits=a), m.distributions.Bernoulli(logits=b)), [LOGITS, LOGITS[::-1].copy()]),
        (lambda m, mu, s: m.distributions.Normal(mu, s).log_prob(m.tensor([0.1, -2.0, 3.0])), [LOC, SCALE]),
        (lambda m, mu, s: m.distributions.Normal(mu, s).entropy() + m.distributions.Normal(mu, s).cdf(m.tensor(0.3)), [LOC, SCALE]),
        (lambda m, mu, s: m.distributions.Normal(mu, s).stddev + m.distributions.Normal(mu, s).variance, [LOC, SCALE]),
        (lambda m, mu, s: m.distributions.kl_divergence(m.distributions.Normal(mu, s), m.distributions.Normal(m.zeros(3, dtype=m.float64), 1.0)), [LOC, SCALE]),
        (lambda m, mu, s: m.distributions.Independent(m.distributions.Normal(mu, s), 1).log_prob(m.tensor([0.1, -2.0, 3.0])), [LOC, SCALE]),
        (lambda m, lo: m.distributions.Uniform(lo, lo + 2).log_prob(lo + 1) + m.distributions.Uniform(lo, lo + 2).entropy(), [LOC]),
        (lambda m, lo: m.distributions.kl_divergence(m.distributions.Uniform(lo, lo + 1), m.distributions.Uniform(lo - 1, lo + 2)), [LOC]),
    ],
)  # fmt: skip
def test_matches_torch(torch, f, arrays):
    _pair(torch, f, *arrays)


def test_sampling():
    cr.manual_seed(0)
    d = cr.distributions.Categorical(probs=cr.tensor([0.2, 0.0, 0.8]))
    s = d.sample((5000,))
    assert s.dtype == cr.int64 and s.shape == (5000,)
    np.testing.assert_allclose(np.bincount(s.numpy(), minlength=3) / 5000, [0.2, 0, 0.8], atol=0.03)
    batch = cr.distributions.Categorical(logits=cr.zeros(2, 3))
    assert batch.sample().shape == (2,) and batch.sample((4,)).shape == (4, 2)
    assert batch.batch_shape == (2,) and batch.event_shape == ()
    b = cr.distributions.Bernoulli(probs=cr.full((3,), 0.3)).sample((2000,))
    assert b.shape == (2000, 3) and abs(b.mean().item() - 0.3) < 0.03
    n = cr.distributions.Normal(cr.tensor(1.0), cr.tensor(2.0))
    x = n.sample((4000,))
    assert abs(x.mean().item() - 1) < 0.15 and abs(x.std().item() - 2) < 0.15
    oh = cr.distributions.OneHotCategorical(probs=cr.tensor([0.5, 0.5])).sample((3,))
    assert oh.shape == (3, 2) and oh.sum().item() == 3


def test_rsample_is_differentiable():
    mu = cr.zeros(3, requires_grad=True)
    sigma = cr.ones(3, requires_grad=True)
    z = cr.distributions.Normal(mu, sigma).rsample((10,))
    assert z.requires_grad
    z.sum().backward()
    assert mu.grad.tolist() == [10.0] * 3 and sigma.grad is not None
    assert not cr.distributions.Normal(mu, sigma).sample().requires_grad


def test_reinforce_idiom():
    """log_prob(action) * reward, backpropagated into a policy's logits."""
    policy = cr.nn.Linear(4, 2)
    state = cr.randn(1, 4)
    probs = cr.nn.functional.softmax(policy(state), dim=1)
    m = cr.distributions.Categorical(probs)
    action = m.sample()
    loss = -m.log_prob(action) * 1.5
    loss.sum().backward()
    assert policy.weight.grad is not None and action.item() in (0, 1)


def test_errors():
    D = cr.distributions
    with pytest.raises(ValueError, match="probs.*logits|Either"):
        D.Categorical()
    with pytest.raises(ValueError, match="non-negative"):
        D.Categorical(probs=cr.tensor([-0.1, 1.0]))
    with pytest.raises(ValueError, match="positive"):
        D.Normal(0.0, cr.tensor([0.0]))
    with pytest.raises(ValueError, match="low"):
        D.Uniform(1.0, 0.0)
    with pytest.raises(NotImplementedError, match="Normal.*Categorical"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(logits=cr.zeros(2)))
