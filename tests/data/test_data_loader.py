"""DataLoader, samplers, collate and random_split: torch.utils.data semantics."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)


class ListDataset(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def _xy(n=10):
    x = cr.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = cr.tensor(np.arange(n))
    return TensorDataset(x, y)


def test_utils_data_alias_is_same_objects():
    import chainrule.utils.data as ud

    assert ud.DataLoader is cr.data.DataLoader
    assert ud.TensorDataset is cr.data.TensorDataset
    assert cr.utils.data.random_split is random_split


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True), (5, 8, False)])
def test_batch_counts_match_torch(n, bs, drop):
    torch = pytest.importorskip("torch")
    ours = DataLoader(_xy(n), batch_size=bs, drop_last=drop)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.arange(n)), batch_size=bs, drop_last=drop
    )
    assert len(ours) == len(theirs)
    sizes = [len(b[1]) for b in ours]
    assert sizes == [len(b[0]) for b in theirs]


def test_sequential_values_and_dtypes():
    batches = list(DataLoader(_xy(7), batch_size=3))
    assert isinstance(batches[0], list) and len(batches[0]) == 2
    assert batches[0][0].shape == (3, 3) and batches[0][0].dtype == cr.float32
    assert batches[0][1].dtype == cr.int64
    assert batches[-1][1].tolist() == [6]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(7))


def test_fast_path_equals_slow_path():
    ds = _xy(23)
    g1, g2 = cr.Generator().manual_seed(5), cr.Generator().manual_seed(5)
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, generator=g1))
    slow = list(
        DataLoader(
            ds, batch_size=4, shuffle=True, generator=g2, collate_fn=lambda b: default_collate(b)
        )
    )
    assert len(fast) == len(slow) == 6
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
        assert a[0].dtype == b[0].dtype and a[1].dtype == b[1].dtype


def test_fast_path_does_not_call_getitem(monkeypatch):
    ds = _xy(8)
    monkeypatch.setattr(TensorDataset, "__getitem__", lambda self, i: pytest.fail("per-sample"))
    out = list(DataLoader(ds, batch_size=4, shuffle=True))
    assert [len(b[1]) for b in out] == [4, 4]


def test_subset_fast_path():
    ds = _xy(10)
    sub = Subset(ds, [9, 1, 4])
    ((x, y),) = list(DataLoader(sub, batch_size=3))
    assert y.tolist() == [9, 1, 4]


def test_shuffle_same_seed_same_order_and_epochs_differ():
    ds = _xy(50)

    def orders(seed):
        dl = DataLoader(ds, batch_size=50, shuffle=True, generator=cr.Generator().manual_seed(seed))
        return [next(iter(dl))[1].tolist() for _ in range(2)]

    a, b = orders(1), orders(1)
    assert a == b
    assert a[0] != a[1]
    assert sorted(a[0]) == list(range(50))
    cr.manual_seed(3)
    e1 = [b[1].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]
    cr.manual_seed(3)
    e2 = [b[1].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]
    assert e1 == e2


def test_default_collate_structures():
    Point = collections.namedtuple("Point", "x y")
    batch = [
        {
            "a": np.ones(2, np.float32),
            "b": 1,
            "c": 2.5,
            "s": "hi",
            "t": (cr.tensor([1.0]), True),
            "p": Point(1, 2.0),
        },
        {
            "a": np.zeros(2, np.float32),
            "b": 2,
            "c": 3.5,
            "s": "yo",
            "t": (cr.tensor([2.0]), False),
            "p": Point(3, 4.0),
        },
    ]
    out = default_collate(batch)
    assert out["a"].shape == (2, 2) and out["a"].dtype == cr.float32
    assert out["b"].dtype == cr.int64 and out["b"].tolist() == [1, 2]
    assert out["c"].dtype == cr.float64
    assert out["s"] == ["hi", "yo"]
    assert isinstance(out["t"], list) and out["t"][1].dtype == cr.bool
    assert isinstance(out["p"], Point) and out["p"].x.tolist() == [1, 3]


def test_default_collate_matches_torch_types():
    torch = pytest.importorskip("torch")
    batch = [(np.ones(3), 1, 2.0, "a"), (np.ones(3), 2, 3.0, "b")]
    ours = default_collate(batch)
    theirs = torch.utils.data.default_collate(batch)
    assert type(ours) is type(theirs) is list
    for o, t in zip(ours[:3], theirs[:3]):
        assert (
            o.shape == tuple(t.shape) and str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        )
    assert ours[3] == theirs[3]


def test_inconsistent_shapes_name_the_index():
    ds = ListDataset([np.ones(2), np.ones(2), np.ones(3), np.ones(2)])
    with pytest.raises(RuntimeError, match="dataset index 2"):
        list(DataLoader(ds, batch_size=4))


def test_mutually_exclusive_options_raise_like_torch():
    ds = _xy(4)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    bs = BatchSampler(SequentialSampler(ds), 2, False)
    for kw in (
        {"batch_size": 2},
        {"shuffle": True},
        {"drop_last": True},
        {"sampler": SequentialSampler(ds)},
    ):
        with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
            DataLoader(ds, batch_sampler=bs, **kw)
    with pytest.raises(ValueError, match="batch_size=None"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)


def test_batch_sampler_and_no_batching():
    ds = _xy(5)
    dl = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 2, True))
    assert len(dl) == 2 and [b[1].tolist() for b in dl] == [[0, 1], [2, 3]]
    dl = DataLoader(ListDataset([np.arange(2), np.arange(2)]), batch_size=None)
    items = list(dl)
    assert len(dl) == 2 and isinstance(items[0], cr.Tensor) and items[0].shape == (2,)


def test_iterable_dataset_batches():
    dl = DataLoader(Stream(7), batch_size=3, drop_last=False)
    assert [b.tolist() for b in dl] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2


def test_threads_keep_order():
    ds = ListDataset([np.full(2, i) for i in range(20)])
    out = [b[:, 0].tolist() for b in DataLoader(ds, batch_size=3, num_workers=2)]
    assert sum(out, []) == list(range(20))


def test_samplers_semantics():
    ds = list(range(10))
    assert list(SequentialSampler(ds)) == list(range(10))
    g = cr.Generator().manual_seed(0)
    r = list(RandomSampler(ds, generator=g))
    assert sorted(r) == list(range(10))
    r = list(RandomSampler(ds, num_samples=25, generator=g))
    assert (
        len(r) == 25 and sorted(r[:10]) == list(range(10)) and sorted(r[10:20]) == list(range(10))
    )
    r = list(RandomSampler(ds, replacement=True, num_samples=100, generator=g))
    assert len(r) == 100 and max(r) <= 9
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(ds, replacement=1)
    assert sorted(SubsetRandomSampler([3, 5, 7], generator=g)) == [3, 5, 7]
    w = list(WeightedRandomSampler([0.0, 0.0, 1.0], 5, generator=g))
    assert w == [2] * 5
    assert len(list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))) == 3
    with pytest.raises(RuntimeError):
        list(WeightedRandomSampler([1.0, 1.0], 3, replacement=False))
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(ds, 0, False)
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, True)) == 2


def test_distributed_sampler_matches_torch():
    torch = pytest.importorskip("torch")
    ds = list(range(11))
    for drop in (False, True):
        for shuffle in (False, True):
            parts = [
                list(
                    DistributedSampler(ds, num_replicas=3, rank=r, shuffle=shuffle, drop_last=drop)
                )
                for r in range(3)
            ]
            ref = [
                list(torch.utils.data.DistributedSampler(ds, 3, r, shuffle=shuffle, drop_last=drop))
                for r in range(3)
            ]
            assert [len(p) for p in parts] == [len(p) for p in ref]
            if not shuffle:
                assert parts == ref
            flat = sum(parts, [])
            assert set(flat) <= set(ds)
            if drop:
                assert len(set(flat)) == len(flat)
    s = DistributedSampler(ds, num_replicas=2, rank=0, seed=1)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(ds, num_replicas=2, rank=2)


def test_distributed_sampler_defaults_to_one_process_without_mpi(monkeypatch):
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    s = DistributedSampler(list(range(4)), shuffle=False)
    assert (s.num_replicas, s.rank) == (1, 0) and list(s) == [0, 1, 2, 3]


def test_random_split_sizes_and_fractions():
    ds = _xy(10)
    a, b = random_split(ds, [7, 3], generator=cr.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted(list(a.indices) + list(b.indices)) == list(range(10))
    parts = random_split(range(10), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(range(11), [0.5, 0.5])
    assert [len(p) for p in parts] == [6, 5]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    s1 = random_split(range(20), [10, 10], generator=cr.Generator().manual_seed(4))
    s2 = random_split(range(20), [10, 10], generator=cr.Generator().manual_seed(4))
    assert list(s1[0].indices) == list(s2[0].indices)


def test_concat_and_tensordataset_errors():
    c = ConcatDataset([ListDataset([1, 2]), ListDataset([3])])
    assert len(c) == 3 and c[2] == 3 and c[-1] == 3 and c[0] == 1
    with pytest.raises(ValueError):
        c[-4]
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(cr.zeros(3), cr.zeros(4))
    assert len(ListDataset([1]) + ListDataset([2, 3])) == 3


def test_threads_fast_path_and_dict_samples():
    ds = _xy(17)
    a = [b[1].tolist() for b in DataLoader(ds, batch_size=5, num_workers=2)]
    assert a == [list(range(i, min(i + 5, 17))) for i in range(0, 17, 5)]
    dicts = ListDataset([{"x": np.full(2, i, np.float32), "y": i} for i in range(5)])
    (b1, b2) = list(DataLoader(dicts, batch_size=3))
    assert b1["x"].shape == (3, 2) and b2["y"].tolist() == [3, 4]


def test_weighted_sampler_tensor_weights_and_loader_len():
    w = cr.tensor([1.0, 0.0, 3.0])
    s = WeightedRandomSampler(w, 50, generator=cr.Generator().manual_seed(0))
    assert set(s) <= {0, 2}
    with pytest.raises(ValueError, match="1d"):
        WeightedRandomSampler([[1.0]], 1)
    dl = DataLoader(_xy(10), sampler=s, batch_size=4)
    assert len(dl) == 13 and sum(len(b[1]) for b in dl) == 50
    assert len(DataLoader(_xy(10), batch_size=None)) == 10


def test_seed_shorthand():
    a = [b[1].tolist() for b in DataLoader(_xy(20), batch_size=5, shuffle=True, seed=3)]
    g = cr.Generator().manual_seed(3)
    b = [b[1].tolist() for b in DataLoader(_xy(20), batch_size=5, shuffle=True, generator=g)]
    assert a == b
    with pytest.raises(ValueError, match="seed"):
        DataLoader(_xy(2), seed=1, generator=g)
