"""Regression tests from the external review of chainrule.io (bad input, data loss)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_key_named_metadata_round_trips(tmp_path):
    # A tensor called "__metadata__" used to write a file that could not be read back.
    path = tmp_path / "m.safetensors"
    cr.save({"__metadata__": cr.ones(2), "w": cr.zeros(1)}, path)
    back = cr.load(path)
    assert list(back) == ["__metadata__", "w"]
    np.testing.assert_array_equal(back["__metadata__"].numpy(), [1.0, 1.0])


def test_save_to_directory_names_the_path(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        cr.save({"a": cr.ones(1)}, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("layout", [{"d": [["x"]]}, {"l": 5}, {"d": [[{"k": 1}, {"v": 1}]]}])
def test_corrupt_layout_is_a_valueerror_naming_the_file(tmp_path, layout):
    header = json.dumps({"__metadata__": {"chainrule.layout": json.dumps(layout)}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="bad.safetensors"):
        cr.load(path)


def _net():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_checkpoint_of_another_optimizer_type_changes_nothing(tmp_path):
    net = _net()
    cr.save_checkpoint(tmp_path / "c.st", model=net, optimizer=cr.optim.Adam(net.parameters()))
    other = _net()
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    sgd = cr.optim.SGD(other.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another type.*betas"):
        cr.load_checkpoint(tmp_path / "c.st", model=other, optimizer=sgd)
    assert all(np.array_equal(before[k], v.numpy()) for k, v in other.state_dict().items())
    assert sgd.param_groups[0]["momentum"] == 0 and not sgd.state_dict()["state"]


def test_checkpoint_optimizer_loads_with_or_without_a_scheduler(tmp_path):
    # A scheduler adds initial_lr to the groups; that must not look like another optimizer.
    net = _net()
    opt = cr.optim.SGD(net.parameters(), lr=0.1)
    sched = cr.optim.lr_scheduler.StepLR(opt, 2)
    cr.save_checkpoint(tmp_path / "c.st", model=net, optimizer=opt, scheduler=sched)
    fresh = _net()
    cr.load_checkpoint(tmp_path / "c.st", model=fresh, optimizer=cr.optim.SGD(fresh.parameters()))


def test_checkpoint_of_another_scheduler_type_changes_nothing(tmp_path):
    net = _net()
    opt = cr.optim.SGD(net.parameters(), lr=0.1)
    sched = cr.optim.lr_scheduler.StepLR(opt, 2, gamma=0.1)
    cr.save_checkpoint(tmp_path / "c.st", model=net, optimizer=opt, scheduler=sched)
    other = _net()
    opt2 = cr.optim.SGD(other.parameters(), lr=0.1)
    exp = cr.optim.lr_scheduler.ExponentialLR(opt2, gamma=0.9)
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    with pytest.raises(ValueError, match="scheduler is of another type"):
        cr.load_checkpoint(tmp_path / "c.st", model=other, optimizer=opt2, scheduler=exp)
    assert exp.gamma == 0.9
    assert all(np.array_equal(before[k], v.numpy()) for k, v in other.state_dict().items())
