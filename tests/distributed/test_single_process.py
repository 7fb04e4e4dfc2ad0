"""chainrule.distributed in one process: errors before init, a world of size 1, the sampler."""

from __future__ import annotations

import datetime
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DistributedSampler


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.all_reduce(cr.ones(2)),
        lambda d: d.broadcast(cr.ones(2), src=0),
        lambda d: d.all_gather(cr.ones(2)),
        lambda d: d.all_gather([cr.ones(2)], cr.ones(2)),
        lambda d: d.barrier(),
        lambda d: d.get_rank(),
        lambda d: d.get_world_size(),
        lambda d: d.all_gather_object([None], 1),
        lambda d: d.destroy_process_group(),
        lambda d: d.DistributedDataParallel(nn.Linear(2, 2)),
    ],
)
def test_collectives_before_init_raise(no_launcher_env, call):
    dist = no_launcher_env
    assert not dist.is_initialized()
    # RuntimeError as documented; also a ValueError, which is what torch raises
    with pytest.raises(RuntimeError, match="init_process_group") as info:
        call(dist)
    assert isinstance(info.value, ValueError)


def test_world_of_one_without_mpirun(no_launcher_env):
    dist = no_launcher_env
    dist.init_process_group()
    assert dist.is_initialized() and dist.get_world_size() == 1 and dist.get_rank() == 0
    assert dist.get_backend() == "mpi"
    t = cr.tensor([1.0, -2.0])
    for op in ("sum", "mean", "max", dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX):
        dist.all_reduce(t, op=op)
        assert t.tolist() == [1.0, -2.0]
    dist.broadcast(t, src=0)
    out = [cr.zeros(2)]
    dist.all_gather(out, t)
    assert out[0].tolist() == [1.0, -2.0]
    listed = dist.all_gather(t)
    assert len(listed) == 1 and listed[0].tolist() == [1.0, -2.0]
    dist.all_reduce(t, async_op=True).wait()
    dist.barrier()
    objs = [None]
    dist.all_gather_object(objs, {"a": 1})
    assert objs == [{"a": 1}]
    with pytest.raises(ValueError, match="twice") as info:  # torch's type; also a RuntimeError
        dist.init_process_group()
    assert isinstance(info.value, RuntimeError)
    flags = cr.tensor([0b1100, 0b1010])
    dist.all_reduce(flags, op=dist.ReduceOp.BAND)
    assert flags.tolist() == [12, 10]
    dist.destroy_process_group()
    assert not dist.is_initialized()


def test_bad_arguments(no_launcher_env):
    dist = no_launcher_env
    with pytest.raises(ValueError, match="backend"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="world_size=2"):
        dist.init_process_group(world_size=2)
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group(timeout=datetime.timedelta(seconds=0))
    assert not dist.is_initialized()
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=5), world_size=1, rank=0)
    with pytest.raises(ValueError, match="unknown op"):
        dist.all_reduce(cr.ones(2), op="median")
    with pytest.raises(ValueError, match="src=1"):
        dist.broadcast(cr.ones(2), src=1)
    with pytest.raises(TypeError, match="Tensor"):
        dist.all_reduce(np.ones(2))
    with pytest.raises(ValueError, match="list of 1"):
        dist.all_gather([cr.ones(2), cr.ones(2)], cr.ones(2))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        dist.all_gather([cr.ones(3)], cr.ones(2))
    with pytest.raises(ValueError, match="CPU"):
        dist.DistributedDataParallel(nn.Linear(2, 2), device_ids=[0])
    with pytest.raises(TypeError, match="Module"):
        dist.DistributedDataParallel(lambda x: x)
    with pytest.raises(RuntimeError, match="not needed"):
        dist.DistributedDataParallel(nn.Linear(2, 2).requires_grad_(False))
    with pytest.raises(TypeError, match="integer"):
        dist.all_reduce(cr.ones(2), op="bxor")


def test_ddp_in_a_world_of_one_is_the_plain_model(no_launcher_env):
    dist = no_launcher_env
    dist.init_process_group()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ref = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ref.load_state_dict(model.state_dict())
    ddp = cr.nn.parallel.DistributedDataParallel(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert [id(p) for p in ddp.parameters()] == [id(p) for p in model.parameters()]
    x, y = cr.randn(8, 3), cr.randn(8, 2)
    opt, ref_opt = optim.SGD(ddp.parameters(), lr=0.1), optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        ((ddp(x) - y) ** 2).mean().backward()
        opt.step()
        ref_opt.zero_grad()
        ((ref(x) - y) ** 2).mean().backward()
        ref_opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)
    with ddp.no_sync():
        assert not ddp.require_backward_grad_sync
    assert ddp.require_backward_grad_sync
    ddp.eval()
    assert not model.training


def test_sampler_partition_is_disjoint_covering_and_epoch_dependent():
    n, size = 103, 4
    for drop_last in (False, True):
        shares = {}
        for epoch in (0, 1):
            parts = []
            for rank in range(size):
                s = DistributedSampler(range(n), num_replicas=size, rank=rank, seed=3,
                                       drop_last=drop_last)  # fmt: skip
                s.set_epoch(epoch)
                parts.append(list(s))
            assert len({len(p) for p in parts}) == 1  # every rank takes the same number of steps
            flat = [i for p in parts for i in p]
            if drop_last:
                assert len(set(flat)) == len(flat) == (n // size) * size  # disjoint
            else:
                assert set(flat) == set(range(n))  # covering; the wrap-around pads 1 example
                assert len(flat) - len(set(flat)) == (-n) % size
            shares[epoch] = parts
        assert shares[0] != shares[1]


def test_sampler_takes_the_launchers_rank_before_init(no_launcher_env, monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    s = DistributedSampler(range(10), shuffle=False)
    assert (s.num_replicas, s.rank) == (2, 1) and list(s) == [1, 3, 5, 7, 9]


def test_missing_mpi4py(no_launcher_env, monkeypatch):
    dist = no_launcher_env
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    dist.init_process_group()  # not launched by mpirun: a world of one needs no MPI
    assert dist.get_world_size() == 1
    dist.destroy_process_group()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    with pytest.raises(RuntimeError, match=r"chainrule\[mpi\]"):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_sync_batchnorm_without_a_group_is_batchnorm_like_torch(no_launcher_env):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(6, 3, 4)).astype(np.float32)
    ours, theirs = nn.SyncBatchNorm(3, momentum=0.2), torch.nn.SyncBatchNorm(3, momentum=0.2)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(xc) ** 3).sum().backward()
    (theirs(xt) ** 3).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-6)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(xc).detach().numpy(), theirs(xt).detach().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2D"):
        ours(cr.ones(3))
    with pytest.raises(RuntimeError, match="channels"):  # torch: RuntimeError (running_mean size)
        ours(cr.ones(2, 4))


def test_convert_sync_batchnorm_shares_parameters_and_buffers():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4)))
    bn = model[1]
    model.eval()
    out = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model  # converted in place, as torch does
    assert isinstance(out[1], nn.SyncBatchNorm) and isinstance(out[2][0], nn.SyncBatchNorm)
    assert out[1].weight is bn.weight and out[1].running_var is bn.running_var
    assert not out[1].training
    assert list(out.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "2.0.weight", "2.0.bias", "2.0.running_mean",
        "2.0.running_var", "2.0.num_batches_tracked",
    ]  # fmt: skip


def test_sync_batchnorm_function_gradcheck_and_matches_batchnorm(monkeypatch):
    # The synchronised op itself, with the cross-rank sums made local (a world of one rank):
    # float64 central differences, and the same values, gradients and running stats as
    # F.batch_norm.
    from chainrule.distributed import sync_batchnorm as sbn

    monkeypatch.setattr(sbn, "_allreduce_sum", lambda g, arr, what: None)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(5, 3, 2)), requires_grad=True)
    w = cr.tensor(rng.normal(size=3), requires_grad=True)
    b = cr.tensor(rng.normal(size=3), requires_grad=True)

    def fn(x, w, b):
        rm, rv = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
        return sbn._SyncBatchNormFn.apply(x, w, b, eps=1e-5, running_mean=rm, running_var=rv,
                                          factor=0.1, group=None)  # fmt: skip

    assert cr.autograd.gradcheck(fn, (x, w, b))
    rm, rv = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
    rm2, rv2 = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
    y = sbn._SyncBatchNormFn.apply(x, w, b, eps=1e-5, running_mean=rm, running_var=rv,
                                   factor=0.1, group=None)  # fmt: skip
    y2 = nn.functional.batch_norm(x, rm2, rv2, w, b, True, 0.1, 1e-5)
    np.testing.assert_allclose(y.detach().numpy(), y2.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rv.numpy(), rv2.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rm.numpy(), rm2.numpy(), rtol=1e-12, atol=1e-15)
