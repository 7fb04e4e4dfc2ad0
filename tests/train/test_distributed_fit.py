"""fit(distributed=True) wiring, with a stand-in for chainrule.distributed (no MPI needed)."""

from __future__ import annotations

import numpy as np

from chainrule import nn, optim
from chainrule.train import CSVLogger, ModelCheckpoint, ProgressBar, _distributed, fit


class FakeDist:
    """The chainrule.distributed calls fit makes, recorded; world size 1 semantics."""

    def __init__(self, rank: int = 0, world: int = 1) -> None:
        self.rank, self.world = rank, world
        self.calls: list[str] = []

    def init_process_group(self) -> None:
        self.calls.append("init")

    def is_initialized(self) -> bool:
        return bool(self.calls)

    def get_rank(self) -> int:
        return self.rank

    def get_world_size(self) -> int:
        return self.world

    def broadcast(self, tensor, src=0) -> None:
        self.calls.append("broadcast")

    def all_reduce(self, tensor, op="sum") -> None:
        self.calls.append(f"all_reduce:{op}")


def test_distributed_fit_shards_data_and_averages_gradients(monkeypatch):
    fake = FakeDist()
    monkeypatch.setattr(_distributed, "_dist", lambda: fake)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 2, 64)
    model = nn.Linear(4, 2)
    history = fit(model, (x, y), loss=nn.CrossEntropyLoss(),
                  optimizer=optim.SGD(model.parameters(), 0.1), epochs=2, batch_size=16,
                  distributed=True, progress=False)  # fmt: skip
    assert len(history) == 2
    assert fake.calls[0] == "init" and fake.calls.count("broadcast") == 3  # weight, bias, seed
    # 2 epochs x 4 batches x 2 parameters gradient averages, plus one log average per epoch
    assert fake.calls.count("all_reduce:mean") == 2 * 4 * 2 + 2


def test_only_rank_zero_writes_files_and_progress(monkeypatch, tmp_path):
    fake = FakeDist(rank=1, world=2)
    fake.calls.append("init")
    monkeypatch.setattr(_distributed, "_dist", lambda: fake)
    loader_like = type("L", (), {"dataset": list(range(10)), "batch_size": 2,
                                 "collate_fn": None, "drop_last": False})()  # fmt: skip
    callbacks = [ProgressBar(), ModelCheckpoint(tmp_path / "c.safetensors"), CSVLogger("x.csv")]
    loader, kept = _distributed.setup(loader_like, callbacks, shuffle=True, seed=0)
    assert [type(cb).__name__ for cb in kept] == ["DistributedSync", "AgreeOnStop"]
    assert len(loader) == 3  # 5 of the 10 examples on this rank, batches of 2
