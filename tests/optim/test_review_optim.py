"""Regression tests for differences from PyTorch 2.13 found reviewing chainrule.optim."""

from __future__ import annotations

import pytest

import chainrule as cr


def _events(lib):
    log = []
    p = lib.nn.Parameter(lib.ones(2))
    opt = lib.optim.SGD([p], lr=0.1)
    pre = opt.register_step_pre_hook(
        lambda o, a, k: log.append(("pre", a[0] is o, len(a), sorted(k)))
    )
    post = opt.register_step_post_hook(
        lambda o, a, k: log.append(("post", a[0] is o, len(a), sorted(k)))
    )
    p.grad = lib.ones(2)
    opt.step()
    pre.remove()
    opt.step(closure=None)
    post.remove()
    opt.step()
    return log, p.detach().numpy().tolist()


def test_step_hooks_match_torch():
    torch = pytest.importorskip("torch")
    assert _events(cr) == _events(torch)


def test_step_pre_hook_can_replace_arguments_and_hooks_run_once_for_lbfgs():
    p = cr.nn.Parameter(cr.ones(2))
    opt = cr.optim.LBFGS([p], max_iter=2)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    opt.register_step_pre_hook(lambda o, a, k: ((o, closure), {}))  # supplies the closure
    opt.register_step_post_hook(lambda o, a, k: calls.append(len(a)))
    assert opt.step() is not None
    assert calls == [2]
