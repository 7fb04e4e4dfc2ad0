"""cr.save / cr.load: round trips, torch interop both ways, bad files, atomic writes, no pickle."""

from __future__ import annotations

import collections
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import safetensors as cst

ROOT = Path(__file__).resolve().parents[2]


def _eq(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, cr.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _eq(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _eq(x, y)
    else:
        assert a == b or (a != a and b != b)


OBJECTS = [
    collections.OrderedDict(
        [
            ("fc.weight", cr.randn(3, 4)),
            ("fc.bias", cr.zeros(3)),
            ("bn.num_batches_tracked", cr.tensor(5)),
        ]
    ),
    cr.arange(6).reshape(2, 3),
    {"a": [cr.ones(2), (1, 2.5, "s"), None, True], "b": {"c": cr.tensor(3.0)}},
    {
        "state": {0: {"step": 3, "exp_avg": cr.zeros(2)}},
        "param_groups": [{"lr": 0.1, "params": [0]}],
    },
    [1, 2, {"x": float("inf")}],
    {"arr": np.arange(4, dtype=np.int16), "f": 1e-300, "neg": -7, "empty": cr.zeros(0, 3)},
    {"weird.key": cr.ones(1), "weird": {"key": cr.zeros(1)}},
]


@pytest.mark.parametrize("obj", OBJECTS, ids=range(len(OBJECTS)))
def test_round_trip_path_and_file_object(obj, tmp_path):
    p = tmp_path / "x.safetensors"
    cr.save(obj, p)
    _eq(obj, cr.load(p))
    buf = io.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    _eq(obj, cr.load(buf, map_location="cpu", weights_only=True))


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
)
def test_dtypes_round_trip(dtype, tmp_path):
    a = (np.arange(-3, 3) % 2 == 0) if dtype == "bool" else np.arange(-3, 3).astype(dtype)
    t = cr.from_numpy(np.ascontiguousarray(a))
    cr.save({"t": t}, tmp_path / "d.safetensors")
    back = cr.load(tmp_path / "d.safetensors")["t"]
    assert back.dtype == t.dtype
    np.testing.assert_array_equal(back.numpy(), a)


def test_state_dict_is_plain_safetensors(tmp_path):
    from safetensors.numpy import load_file

    sd = {"w": cr.randn(2, 2), "b": cr.ones(2)}
    cr.save(sd, tmp_path / "m.safetensors", metadata={"author": "me"})
    arrays = load_file(str(tmp_path / "m.safetensors"))
    assert set(arrays) == {"w", "b"}
    np.testing.assert_array_equal(arrays["w"], sd["w"].numpy())
    _, meta = cst.load_with_metadata(tmp_path / "m.safetensors")
    assert meta["author"] == "me"


def test_saving_a_module_says_state_dict(tmp_path):
    class Fake:
        def state_dict(self):
            return {}

        def parameters(self):
            return iter(())

    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        cr.save(Fake(), tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match="cannot store"):
        cr.save({"f": object()}, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


# ----------------------------------------------------------------------------- torch interop


def _torch_modules(torch):
    torch.manual_seed(0)
    return [
        torch.nn.Linear(4, 3),
        torch.nn.Conv2d(2, 3, 3),
        torch.nn.LSTM(3, 5, 2),
        torch.nn.BatchNorm1d(4),
        torch.nn.Embedding(7, 2),
    ]


def test_torch_saved_state_dicts_load(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    for m in _torch_modules(torch):
        sd = m.state_dict()
        path = str(tmp_path / "t.safetensors")
        save_file(sd, path)
        ours = cr.load(path)
        assert set(ours) == set(sd)
        for k, v in sd.items():
            assert ours[k].shape == tuple(v.shape)
            assert str(ours[k].dtype).split(".")[-1] == str(v.dtype).split(".")[-1]
            np.testing.assert_array_equal(ours[k].numpy(), v.numpy())


def test_ours_load_in_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    for m in _torch_modules(torch):
        ref = {k: cr.tensor(v.numpy()) for k, v in m.state_dict().items()}
        path = str(tmp_path / "c.safetensors")
        cr.save(ref, path)
        loaded = load_file(path)
        fresh = type(m)(*_ctor_args(m))
        fresh.load_state_dict(loaded, strict=True)
        for k, v in fresh.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), ref[k].numpy())


def _ctor_args(m):
    import torch

    if isinstance(m, torch.nn.Linear):
        return (m.in_features, m.out_features)
    if isinstance(m, torch.nn.Conv2d):
        return (m.in_channels, m.out_channels, m.kernel_size)
    if isinstance(m, torch.nn.LSTM):
        return (m.input_size, m.hidden_size, m.num_layers)
    if isinstance(m, torch.nn.BatchNorm1d):
        return (m.num_features,)
    return (m.num_embeddings, m.embedding_dim)


def test_torch_module_into_chainrule_module(tmp_path):
    torch = pytest.importorskip("torch")
    try:
        nn = cr.nn
        layer = nn.Linear(4, 3)
    except (ImportError, AttributeError):
        pytest.skip("chainrule.nn.Linear not available")
    from safetensors.torch import load_file, save_file

    tl = torch.nn.Linear(4, 3)
    save_file(tl.state_dict(), str(tmp_path / "t.safetensors"))
    layer.load_state_dict(cr.load(tmp_path / "t.safetensors"))
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(
        layer(cr.tensor(x)).detach().numpy(), tl(torch.from_numpy(x)).detach().numpy(), rtol=1e-5
    )
    cr.save(layer.state_dict(), tmp_path / "c.safetensors")
    t2 = torch.nn.Linear(4, 3)
    t2.load_state_dict(load_file(str(tmp_path / "c.safetensors")))
    np.testing.assert_array_equal(t2.weight.detach().numpy(), layer.weight.detach().numpy())


def test_bf16_widened_to_float32(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    t = torch.tensor([1.5, -2.25, 3e38, 1e-3]).to(torch.bfloat16)
    save_file({"x": t, "h": torch.ones(2, dtype=torch.float16)}, str(tmp_path / "b.safetensors"))
    ours = cr.load(tmp_path / "b.safetensors")
    assert ours["x"].dtype == cr.float32 and ours["h"].dtype == cr.float16
    np.testing.assert_array_equal(ours["x"].numpy(), t.float().numpy())


# ----------------------------------------------------------------------------- bad files


def _valid_bytes():
    buf = io.BytesIO()
    cr.save({"w": cr.ones(4), "b": cr.zeros(2)}, buf)
    return buf.getvalue()


def _with_header(header: dict, body: bytes = b"\x00" * 24) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "too short"),
        (b"\x05\x00\x00", "too short"),
        (struct.pack("<Q", 10**6) + b"{}", "past the end"),
        (struct.pack("<Q", 6) + b"{nope}", "not JSON"),
        (struct.pack("<Q", 4) + b"[1] ", "does not start"),
        (_with_header({"x": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}), "dtype tag"),
        (
            _with_header({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}}),
            "out of range",
        ),
        (
            _with_header({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}),
            "expected 12",
        ),
        (_with_header({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}), "bad shape"),
        (_with_header({"x": {"dtype": "F32", "shape": [2]}}), "data_offsets"),
        (_with_header({"__metadata__": {"a": 1}}), "__metadata__"),
        (
            b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94K\x01u.",
            "never unpickles",
        ),
        (b"PK\x03\x04" + b"\x00" * 60, "never unpickles"),
    ],
)
def test_bad_files_raise_value_error_with_path(data, match, tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(data)
    with pytest.raises(ValueError, match=match) as info:
        cr.load(p)
    assert "bad.safetensors" in str(info.value)


def test_truncated_anywhere_is_value_error(tmp_path):
    data = _valid_bytes()
    p = tmp_path / "t.safetensors"
    for cut in range(0, len(data) - 1, 7):
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError):
            cr.load(p)


def test_torch_save_file_is_rejected_without_unpickling(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    p = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, p)
    import pickle

    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(ValueError, match="model.pt"):
        cr.load(p)


def test_saved_file_mode_and_missing_parent(tmp_path):
    p = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(1)}, p)
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(RuntimeError, match="Parent directory"):
        cr.save({"w": cr.ones(1)}, tmp_path / "nope" / "m.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        cr.load(tmp_path / "nope.safetensors")


def test_no_pickle_is_used_by_save_or_load(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, types
        sys.path.insert(0, {str(ROOT)!r})
        import chainrule as cr
        import chainrule.io
        poisoned = types.ModuleType("pickle")
        def boom(*a, **k):
            raise AssertionError("pickle used")
        for name in ("load", "loads", "dump", "dumps", "Unpickler", "Pickler"):
            setattr(poisoned, name, boom)
        sys.modules["pickle"] = poisoned
        sys.modules["_pickle"] = poisoned
        p = {str(tmp_path / "np.safetensors")!r}
        cr.save({{"a": cr.ones(2), "b": [1, "x", {{"c": cr.zeros(1)}}]}}, p)
        assert cr.load(p)["b"][1] == "x"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ----------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_crash_mid_write_leaves_old_file(where, tmp_path, monkeypatch):
    p = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(3)}, p)
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk on fire")

    if where == "write":
        monkeypatch.setattr(cst, "_serialize", lambda *a, **k: b"x" * 10)
        real = os.fdopen

        class Broken:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, data):
                self.fh.write(data[:3])
                raise OSError("disk on fire")

        monkeypatch.setattr(cst.os, "fdopen", lambda fd, mode: Broken(real(fd, mode)))
    else:
        monkeypatch.setattr(cst.os, where, boom)
    with pytest.raises(OSError, match="disk on fire"):
        cr.save({"w": cr.zeros(3), "x": cr.ones(100)}, p)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert cr.load(p)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["m.safetensors"]  # the temp file was removed


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_save_leaves_previous_file_loadable(tmp_path):
    p = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(3)}, p)
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import chainrule as cr
        from chainrule.io import safetensors as cst
        def slow_fsync(fd):
            print("writing", flush=True)
            time.sleep(60)
        cst.os.fsync = slow_fsync
        cr.save({{"w": cr.zeros(1000)}}, {str(p)!r})
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout.readline().strip() == "writing"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert cr.load(p)["w"].tolist() == [1.0, 1.0, 1.0]


_PAIRS = [
    ("Linear", (4, 3), (2, 4)),
    ("Conv2d", (2, 3, 3), (1, 2, 6, 6)),
    ("BatchNorm2d", (3,), (2, 3, 4, 4)),
    ("Embedding", (7, 2), None),
    ("LSTM", (3, 5, 2), (4, 2, 3)),
    ("GRU", (3, 4), (4, 2, 3)),
]


@pytest.mark.parametrize("name,args,in_shape", _PAIRS, ids=[p[0] for p in _PAIRS])
def test_torch_modules_interop_with_chainrule_modules(name, args, in_shape, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    try:
        ours = getattr(cr.nn, name)(*args)
    except (ImportError, AttributeError):
        pytest.skip(f"chainrule.nn.{name} not available")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args)
    if name == "BatchNorm2d":  # non-trivial running statistics
        theirs.running_mean.uniform_()
        theirs.running_var.uniform_(0.5, 2.0)
        theirs.num_batches_tracked += 3
    path = str(tmp_path / "t.safetensors")
    save_file(theirs.state_dict(), path)
    ours.load_state_dict(cr.load(path))
    ours.eval()
    theirs.eval()
    if in_shape is None:
        idx = np.array([[1, 6, 0]])
        x_ours, x_theirs = cr.tensor(idx), torch.from_numpy(idx)
    else:
        x = np.random.default_rng(1).standard_normal(in_shape).astype(np.float32)
        x_ours, x_theirs = cr.tensor(x), torch.from_numpy(x)
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    if isinstance(out_theirs, tuple):
        out_ours, out_theirs = out_ours[0], out_theirs[0]
    np.testing.assert_allclose(
        out_ours.detach().numpy(), out_theirs.detach().numpy(), rtol=1e-4, atol=1e-5
    )
    # and back: our state_dict, saved by us, loads into a fresh torch module
    cr.save(ours.state_dict(), tmp_path / "c.safetensors")
    back = getattr(torch.nn, name)(*args)
    back.load_state_dict(load_file(str(tmp_path / "c.safetensors")), strict=True)
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), theirs.state_dict()[k].numpy(), err_msg=k)
