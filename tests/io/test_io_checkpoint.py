"""Checkpoints: one safetensors file; resuming continues bit for bit like an uninterrupted run."""

from __future__ import annotations

import random

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset


class TinyNet:
    """A two-layer net with dropout drawn from the default generator (duck-typed Module)."""

    def __init__(self, n_in: int = 4, hidden: int = 8) -> None:
        self.params = {
            "fc1.weight": cr.randn(hidden, n_in, requires_grad=True),
            "fc1.bias": cr.zeros(hidden, requires_grad=True),
            "fc2.weight": cr.randn(3, hidden, requires_grad=True),
            "fc2.bias": cr.zeros(3, requires_grad=True),
        }

    def parameters(self):
        return list(self.params.values())

    def state_dict(self):
        return dict(self.params)

    def load_state_dict(self, sd, strict=True):
        with cr.no_grad():
            for k, v in self.params.items():
                v.copy_(sd[k])

    def __call__(self, x):
        p = self.params
        h = (x @ p["fc1.weight"].T + p["fc1.bias"]).relu()
        mask = (cr.rand(*h.shape) > 0.3).float() / 0.7  # dropout from the default generator
        return (h * mask) @ p["fc2.weight"].T + p["fc2.bias"]


def _data():
    g = np.random.default_rng(0)
    x = cr.tensor(g.standard_normal((40, 4)).astype(np.float32))
    y = cr.tensor(g.standard_normal((40, 3)).astype(np.float32))
    return TensorDataset(x, y)


def _epoch(model, opt, sched, loader):
    for x, y in loader:
        # noise from NumPy's and Python's global RNGs, so their states matter too
        noise = float(np.random.rand()) * 1e-3 + random.random() * 1e-3
        loss = ((model(x) - y) ** 2).mean() + noise
        opt.zero_grad()
        loss.backward()
        opt.step()
    sched.step()


def _setup(seed):
    cr.manual_seed(seed)
    model = TinyNet()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = DataLoader(_data(), batch_size=8, shuffle=True)
    return model, opt, sched, loader


def test_resume_is_bit_identical(tmp_path):
    model, opt, sched, loader = _setup(0)
    random.seed(1)
    np.random.seed(1)
    for _ in range(5):
        _epoch(model, opt, sched, loader)
    expected = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched, loader = _setup(0)
    random.seed(1)
    np.random.seed(1)
    for _ in range(2):
        _epoch(model, opt, sched, loader)
    path = tmp_path / "ckpt.safetensors"
    cr.save_checkpoint(
        path,
        model=model,
        optimizer=opt,
        scheduler=sched,
        epoch=2,
        history={"loss": [1.0, 0.5]},
        note="hi",
    )

    # a "new process": different seeds and a freshly initialised model
    model, opt, sched, loader = _setup(123)
    random.seed(99)
    np.random.seed(99)
    info = cr.load_checkpoint(path, model=model, optimizer=opt, scheduler=sched)
    assert info == {"epoch": 2, "history": {"loss": [1.0, 0.5]}, "note": "hi"}
    assert sched.get_last_lr() == [0.01 * 0.25]
    for _ in range(3):
        _epoch(model, opt, sched, loader)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), expected[k], err_msg=k)


def test_checkpoint_file_layout(tmp_path):
    from safetensors.numpy import load_file

    model, opt, sched, loader = _setup(0)
    _epoch(model, opt, sched, loader)
    path = tmp_path / "c.safetensors"
    cr.save_checkpoint(path, model=model, optimizer=opt, epoch=1)
    arrays = load_file(str(path))
    assert {"model.fc1.weight", "model.fc2.bias"} <= set(arrays)
    assert "optimizer.state.0.exp_avg" in arrays
    np.testing.assert_array_equal(
        arrays["model.fc1.weight"], model.params["fc1.weight"].detach().numpy()
    )


def test_wrong_architecture_names_key_and_changes_nothing(tmp_path):
    model, opt, sched, _ = _setup(0)
    path = tmp_path / "c.safetensors"
    cr.save_checkpoint(path, model=model, optimizer=opt, epoch=0)
    cr.manual_seed(5)
    other = TinyNet(n_in=5)
    other_opt = cr.optim.Adam(other.parameters(), lr=0.5)
    before = {k: v.detach().numpy().copy() for k, v in other.state_dict().items()}
    rng_before = cr.get_rng_state().numpy().copy()
    with pytest.raises(RuntimeError, match=r"fc1\.weight.*\[8, 4\].*\[8, 5\]"):
        cr.load_checkpoint(path, model=other, optimizer=other_opt)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), before[k])
    assert other_opt.param_groups[0]["lr"] == 0.5
    np.testing.assert_array_equal(cr.get_rng_state().numpy(), rng_before)


def test_not_a_checkpoint(tmp_path):
    cr.save({"w": cr.ones(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="not a chainrule checkpoint"):
        cr.load_checkpoint(tmp_path / "plain.safetensors", model=TinyNet())
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(ValueError, match="junk.safetensors"):
        cr.load_checkpoint(tmp_path / "junk.safetensors")


def test_with_chainrule_nn_modules(tmp_path):
    try:
        nn = cr.nn
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    except (ImportError, AttributeError):
        pytest.skip("chainrule.nn layers not available")

    def run(model, opt, loader, epochs):
        for _ in range(epochs):
            for x, y in loader:
                loss = ((model(x) - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

    def setup():
        cr.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
        return (
            m,
            cr.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
            DataLoader(_data(), batch_size=8, shuffle=True),
        )

    m, o, dl = setup()
    run(m, o, dl, 4)
    expected = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    m, o, dl = setup()
    run(m, o, dl, 2)
    cr.save_checkpoint(tmp_path / "n.safetensors", model=m, optimizer=o, epoch=2)
    cr.manual_seed(7)
    m, o, dl = setup()
    cr.manual_seed(7)
    assert cr.load_checkpoint(tmp_path / "n.safetensors", model=m, optimizer=o)["epoch"] == 2
    run(m, o, dl, 2)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), expected[k], err_msg=k)
