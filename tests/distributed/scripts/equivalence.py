"""Run under ``mpirun -n N``: N ranks with batch B each == one process on the N·B batch.

Also checks the collectives, no_sync accumulation, unused parameters and the sampler partition
under a real process group. Every rank prints ``rank r OK`` at the end; any failed assertion
aborts the job (non-zero exit naming the rank).
"""

from __future__ import annotations

import copy

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.data import Dataset, DistributedSampler

B = 4


def check_collectives(rank: int, size: int) -> None:
    t = cr.tensor([1.0 + rank, 2.0], dtype=cr.float64)
    dist.all_reduce(t)
    assert t.tolist() == [size + sum(range(size)), 2.0 * size], t
    t = cr.tensor([1.0 + rank, 2.0])
    dist.all_reduce(t, op="mean")
    np.testing.assert_allclose(t.numpy(), [1.0 + (size - 1) / 2, 2.0])
    t = cr.tensor([float(rank), -float(rank)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.tolist() == [size - 1, 0.0], t
    t = cr.tensor([1 << rank, 3])
    dist.all_reduce(t, op=dist.ReduceOp.BOR)
    assert t.tolist() == [(1 << size) - 1, 3], t
    t = cr.tensor([rank + 1.0])
    dist.all_reduce(t, op="product")
    assert t.item() == float(np.prod(np.arange(1, size + 1))), t
    t = cr.tensor([rank, 5])
    dist.all_reduce(t, op="min")
    assert t.tolist() == [0, 5], t
    t = cr.tensor([rank * 10, 7])
    dist.broadcast(t, src=size - 1)
    assert t.tolist() == [(size - 1) * 10, 7], t
    out = [cr.zeros(2, 3) for _ in range(size)]
    dist.all_gather(out, cr.full((2, 3), float(rank)))
    assert [float(o.mean()) for o in out] == list(range(size))
    listed = dist.all_gather(cr.tensor([rank]))
    assert [int(x.item()) for x in listed] == list(range(size))
    objs: list = [None] * size
    dist.all_gather_object(objs, {"rank": rank})
    assert objs == [{"rank": r} for r in range(size)]
    strided = cr.arange(12, dtype=cr.float32).reshape(3, 4)[:, ::2]  # not contiguous
    dist.all_reduce(strided)
    assert strided.tolist() == [[0.0 * size, 2.0 * size], [4.0 * size, 6.0 * size],
                                [8.0 * size, 10.0 * size]]  # fmt: skip
    a, b, c = (nn.Parameter(cr.zeros(2, 2)) for _ in range(3))
    a.grad = cr.full((2, 2), float(rank))
    if rank == 0:
        b.grad = cr.ones(2, 2)  # only rank 0 has one: mean with zeros elsewhere
    dist.average_gradients([a, b, c])
    assert a.grad.tolist() == [[(size - 1) / 2] * 2] * 2 and b.grad.tolist() == [[1 / size] * 2] * 2
    assert c.grad is None
    work = dist.all_reduce(cr.ones(3), async_op=True)
    work.wait()
    dist.barrier()


def make_model(dtype, rank: int):
    cr.manual_seed(100 + rank)  # different on every rank: DDP must broadcast rank 0's
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    return model.to(dtype)


def check_equivalence(rank: int, size: int, dtype, opt_name: str) -> None:
    model = make_model(dtype, rank)
    # float64 runs with tiny buckets: one per parameter, several messages in flight at once
    cap = 1e-4 if dtype == cr.float64 else None
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=cap)
    ref = copy.deepcopy(model)  # rank 0's weights, trained on the whole N·B batch
    if opt_name == "sgd":
        opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = optim.Adam(ddp.parameters(), lr=0.01)
        ref_opt = optim.Adam(ref.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)  # the same data on every rank
    npdt = np.float32 if dtype == cr.float32 else np.float64
    for _ in range(10):
        x = rng.normal(size=(size * B, 5)).astype(npdt)
        y = rng.integers(0, 3, size * B)
        mine = slice(rank * B, (rank + 1) * B)
        opt.zero_grad()
        loss_fn(ddp(cr.tensor(x[mine])), cr.tensor(y[mine])).backward()
        # the gradients live in the optimizer's flat buffer: reduced there, without a copy
        assert all(b.direct is not None for b in ddp._reducer.buckets)
        assert len(ddp._reducer.buckets) == (4 if cap else 1)
        opt.step()
        ref_opt.zero_grad()
        loss_fn(ref(cr.tensor(x)), cr.tensor(y)).backward()
        ref_opt.step()
    rtol, atol = (1e-5, 1e-6) if dtype == cr.float32 else (1e-12, 1e-13)
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{opt_name} {dtype} {name}")  # fmt: skip
    # Every replica holds exactly the same weights.
    for name, p in model.named_parameters():
        gathered = dist.all_gather(p.detach().clone())
        for r, other in enumerate(gathered):
            assert np.array_equal(other.numpy(), p.detach().numpy()), f"{name} differs on rank {r}"


class WithUnused(nn.Module):
    """A model with a layer its forward never calls (its gradient must stay None)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.unused = nn.Linear(2, 2).double()

    def forward(self, x):
        return self.body(x)


def check_sync_batchnorm(rank: int, size: int) -> None:
    cr.manual_seed(7 + rank)
    base = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).double()
    ref = copy.deepcopy(base)  # plain BatchNorm, trained on the N·B batch
    model = nn.SyncBatchNorm.convert_sync_batchnorm(base)  # converts base in place, as torch
    assert isinstance(model[1], nn.SyncBatchNorm) and model[1].weight is base[1].weight
    ddp = dist.DistributedDataParallel(model)
    ref.load_state_dict(model.state_dict())  # rank 0's weights
    opt, ref_opt = optim.SGD(ddp.parameters(), lr=0.1), optim.SGD(ref.parameters(), lr=0.1)
    rng = np.random.default_rng(3)
    mine = slice(rank * B, (rank + 1) * B)
    for _ in range(5):
        x, y = rng.normal(size=(size * B, 5)), rng.normal(size=(size * B, 3))
        opt.zero_grad()
        nn.functional.mse_loss(ddp(cr.tensor(x[mine])), cr.tensor(y[mine])).backward()
        opt.step()
        ref_opt.zero_grad()
        nn.functional.mse_loss(ref(cr.tensor(x)), cr.tensor(y)).backward()
        ref_opt.step()
    for (name, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def check_no_sync_and_unused(rank: int, size: int) -> None:
    model = WithUnused(make_model(cr.float64, rank))
    ddp = dist.DistributedDataParallel(model)
    ref = copy.deepcopy(model)
    loss_fn = nn.MSELoss()
    rng = np.random.default_rng(1)
    chunks = [(rng.normal(size=(size * B, 5)), rng.normal(size=(size * B, 3))) for _ in range(3)]
    mine = slice(rank * B, (rank + 1) * B)
    with ddp.no_sync():  # two local micro-batches, no communication
        for x, y in chunks[:2]:
            loss_fn(ddp(cr.tensor(x[mine])), cr.tensor(y[mine])).backward()
    x, y = chunks[2]
    loss_fn(ddp(cr.tensor(x[mine])), cr.tensor(y[mine])).backward()  # averages the total
    for x, y in chunks:
        loss_fn(ref(cr.tensor(x)), cr.tensor(y)).backward()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        if name.startswith("unused"):
            assert p.grad is None and q.grad is None, name
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=name)  # fmt: skip
    assert list(ddp.state_dict())[0] == "module.body.0.weight"


def check_sampler(rank: int, size: int) -> None:
    n = 23
    seen_epochs = []
    for epoch in range(2):
        s = DistributedSampler(list(range(n)), shuffle=True, seed=5)  # group's size and rank
        assert (s.num_replicas, s.rank) == (size, rank)
        s.set_epoch(epoch)
        parts: list = [None] * size
        dist.all_gather_object(parts, list(s))
        flat = [i for p in parts for i in p]
        assert set(flat) == set(range(n)), "not covering"
        pad = len(flat) - n
        assert len(set(flat)) == n and pad < size, "overlap beyond the wrap-around padding"
        seen_epochs.append(parts[rank])
    assert seen_epochs[0] != seen_epochs[1], "same share in two epochs"


class Recording(Dataset):
    """Remembers which examples this rank loaded."""

    def __init__(self, n: int) -> None:
        self.x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
        self.seen: list[int] = []

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        self.seen.append(int(i))
        return cr.tensor(self.x[i]), cr.tensor(self.x[i, :1])


def check_fit(rank: int, size: int) -> None:
    from chainrule.train import fit

    cr.manual_seed(rank)  # no fit(seed=...): ranks start with different weights and RNGs
    data = Recording(40)
    model = nn.Linear(3, 1)
    history = fit(model, data, loss=nn.MSELoss(), optimizer=optim.SGD(model.parameters(), 0.1),
                  epochs=2, batch_size=5, distributed=True, progress=False)  # fmt: skip
    assert len(data.seen) == 5 + 2 * 20  # the preflight batch, then 20 examples per epoch
    per_epoch = [data.seen[5:25], data.seen[25:45]]
    parts: list = [None] * size
    dist.all_gather_object(parts, per_epoch)
    for epoch in range(2):
        flat = [i for p in parts for i in p[epoch]]
        assert sorted(flat) == list(range(40)), f"epoch {epoch}: shares overlap"
    assert per_epoch[0] != per_epoch[1]
    weights: list = [None] * size
    dist.all_gather_object(weights, model.weight.detach().numpy().tolist())
    assert all(w == weights[0] for w in weights), "replicas diverged"
    losses: list = [None] * size
    dist.all_gather_object(losses, history.records[-1]["loss"])
    assert all(v == losses[0] for v in losses), losses


def check_fit_stops_together(rank: int, size: int) -> None:
    from chainrule.train import fit

    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    if rank == 1:
        x[:] = np.nan  # only rank 1 sees a NaN loss
    model = nn.Linear(3, 1)
    history = fit(model, (x, x[:, :1]), loss=nn.MSELoss(), epochs=3, batch_size=5,
                  optimizer=optim.SGD(model.parameters(), 0.1), distributed=True,
                  progress=False, seed=0)  # fmt: skip
    assert len(history) == 0, history.records
    if rank == 0:
        assert history.stop_reason == "rank 1 stopped training", history.stop_reason
    else:
        assert history.stop_reason.startswith("loss is nan"), history.stop_reason
    assert np.isfinite(model.weight.detach().numpy()).all()  # the NaN step was skipped


def main() -> None:
    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    assert size >= 2, "run me under mpirun -n 2"
    check_collectives(rank, size)
    for dtype in (cr.float32, cr.float64):
        for opt_name in ("sgd", "adam"):
            check_equivalence(rank, size, dtype, opt_name)
    check_no_sync_and_unused(rank, size)
    check_sync_batchnorm(rank, size)
    check_sampler(rank, size)
    check_fit(rank, size)
    check_fit_stops_together(rank, size)
    dist.barrier()
    print(f"rank {rank} OK", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
