"""The safetensors reader against the reference implementation (the ``safetensors`` package).

Each malformed file is written by hand and given to both readers: the reference must reject it
(so the case really is malformed) and chainrule must raise ``ValueError`` naming the file, the
tensor or key at fault and what is wrong, before any tensor is returned or loaded into a model.
Files the reference accepts must load with the same arrays. Then round trips both ways over every
dtype, 0-d and empty tensors.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import chainrule as cr

st_numpy = pytest.importorskip("safetensors.numpy")


def _file(header: dict | None, body: bytes, *, raw: bytes | None = None, n: int | None = None):
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if n is None else n) + text + body


def _f32(name, shape, begin, end):
    return {name: {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}}


# (id, file bytes, what chainrule's message must contain (regex))
MALFORMED = [
    (
        "overlap",
        _file({**_f32("a", [2], 0, 8), **_f32("b", [1], 4, 8)}, bytes(8)),
        r"tensor 'b'.*overlaps tensor 'a'",
    ),
    (
        "gap",
        _file({**_f32("a", [1], 0, 4), **_f32("b", [1], 8, 12)}, bytes(12)),
        r"tensor 'b'.*leaves a gap after tensor 'a'",
    ),
    (
        "first_not_at_0",
        _file(_f32("a", [1], 4, 8), bytes(8)),
        r"tensor 'a'.*gap after the start of the data section",
    ),
    ("end_before_begin", _file(_f32("a", [0], 8, 0), bytes(8)), r"tensor 'a'.*end before"),
    ("past_end", _file(_f32("a", [2], 0, 8), bytes(4)), r"tensor 'a'.*past the end"),
    (
        "data_longer",
        _file(_f32("a", [2], 0, 8), bytes(12)),
        r"data section has 12 bytes.*cover 8.*'a'",
    ),
    (
        "data_after_empty_header",
        _file({}, bytes(4)),
        r"data section has 4 bytes.*cover 0",
    ),
    (
        "size_mismatch",
        _file(_f32("a", [3], 0, 8), bytes(8)),
        r"tensor 'a'.*8 bytes.*shape \[3\] and dtype F32 take 12",
    ),
    (
        "size_mismatch_f16",
        _file({"h": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 16]}}, bytes(16)),
        r"tensor 'h'.*16 bytes.*F16 take 8",
    ),
    (
        "shape_overflow",
        _file(_f32("a", [2**62, 8], 0, 4), bytes(4)),
        r"tensor 'a'.*take",
    ),
    (
        "duplicate_key",
        _file(
            None,
            bytes(8),
            raw=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        ),
        r"key 'a' appears twice",
    ),
    ("header_len_overflow", _file(_f32("a", [1], 0, 4), bytes(4), n=2**64 - 1), "header too large"),
    ("header_len_too_big", _file(_f32("a", [1], 0, 4), bytes(4), n=100_000_001), "too large"),
    ("header_len_past_eof", _file(_f32("a", [1], 0, 4), b"", n=1000), "past the end"),
    ("short", b"\x00\x01\x02", "too short"),
    ("non_utf8", _file(None, b"", raw=b'{"a\xff":1}'), "not valid UTF-8"),
    ("non_json", _file(None, b"", raw=b'{"a":'), "not JSON"),
    ("json_array", _file(None, b"", raw=b"[1, 2]"), "does not start with"),
    ("metadata_int_value", _file({"__metadata__": {"k": 1}}, b""), r"__metadata__\['k'\].*int"),
    ("metadata_null_value", _file({"__metadata__": {"k": None}}, b""), r"__metadata__\['k'\]"),
    ("metadata_list", _file({"__metadata__": ["x"]}, b""), "__metadata__ must map.*list"),
    (
        "metadata_nested",
        _file({"__metadata__": {"k": {"x": "y"}}}, b""),
        r"__metadata__\['k'\].*dict",
    ),
    (
        "unknown_dtype",
        _file({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
        r"tensor 'a'.*unknown dtype tag 'X9'",
    ),
    (
        "negative_dim",
        _file(_f32("a", [-1], 0, 4), bytes(4)),
        r"tensor 'a'.*bad shape \[-1\]",
    ),
    (
        "float_offsets",
        _file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0.0, 4.0]}}, bytes(4)),
        r"tensor 'a'.*bad data_offsets",
    ),
    (
        "three_offsets",
        _file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 5]}}, bytes(4)),
        r"tensor 'a'.*bad data_offsets",
    ),
    (
        "nan_in_header",
        _file(
            None, bytes(4), raw=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":NaN}}'
        ),
        "NaN is not a JSON value",
    ),
    (
        "infinity_in_header",
        _file(None, b"", raw=b'{"__metadata__":{"k":"v"},"x":-Infinity}'),
        "Infinity is not a JSON value",
    ),
    (
        "lone_surrogate_key",
        _file(None, bytes(4), raw=b'{"a\\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
        "lone surrogate",
    ),
    ("trailing_garbage", _file(None, b"", raw=b"{} x"), "not JSON"),
    ("byte_order_mark", _file(None, b"", raw=b"\xef\xbb\xbf{}"), "does not start with"),
    (
        "duplicate_field",
        _file(
            None,
            bytes(4),
            raw=b'{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        ),
        "key 'dtype' appears twice",
    ),
    (
        "tensor_entry_null",
        _file({"a": None}, b""),
        r"tensor 'a'.*needs dtype, shape and data_offsets",
    ),
    (
        "missing_offsets",
        _file({"a": {"dtype": "F32", "shape": [1]}}, bytes(4)),
        r"tensor 'a'.*needs dtype, shape and data_offsets",
    ),
]


@pytest.mark.parametrize("data,match", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_rejected_like_reference(data, match, tmp_path):
    with pytest.raises(Exception):  # noqa: B017 - SafetensorError is not importable by name
        st_numpy.load(data)
    p = tmp_path / "bad.safetensors"
    p.write_bytes(data)
    for reader in (cr.load, cr.io.load_file):
        with pytest.raises(ValueError, match=match) as info:
            reader(p)
        assert "bad.safetensors" in str(info.value)


def test_duplicate_key_with_identical_entries_is_rejected_too(tmp_path):
    # The reference silently keeps the last of two identical entries; a file that says the same
    # key twice was not written by a conforming writer, so chainrule refuses it.
    entry = b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    data = _file(None, bytes(4), raw=b"{" + entry + b"," + entry + b"}")
    assert list(st_numpy.load(data)) == ["a"]
    with pytest.raises(ValueError, match="key 'a' appears twice"):
        cr.load(data)


ACCEPTED = [
    ("zero_d", _file(_f32("a", [], 0, 4), struct.pack("<f", 2.5))),
    ("empty", _file(_f32("a", [0, 3], 0, 0), b"")),
    ("empty_then_full", _file({**_f32("a", [0], 0, 0), **_f32("b", [1], 0, 4)}, bytes(4))),
    ("empty_at_end", _file({**_f32("a", [0], 4, 4), **_f32("b", [1], 0, 4)}, bytes(4))),
    ("no_tensors", _file({}, b"")),
    ("metadata_null", _file({"__metadata__": None}, b"")),
    ("metadata_last", _file({**_f32("a", [1], 0, 4), "__metadata__": {"x": "y"}}, bytes(4))),
    ("extra_entry_field", _file({"a": {**_f32("a", [1], 0, 4)["a"], "x": 1}}, bytes(4))),
    (
        "padded_header",
        _file(None, bytes(4), raw=b' {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   '),
    ),
    (
        "bool_byte_not_0_or_1",
        _file({"m": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}}, b"\x00\x05\x01"),
    ),
]


@pytest.mark.parametrize("data", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_what_the_reference_accepts_loads_the_same(data):
    ref = st_numpy.load(data)
    ours = cr.load(data)
    assert sorted(ours) == sorted(ref)
    for k, v in ref.items():
        assert ours[k].shape == v.shape
        np.testing.assert_array_equal(ours[k].numpy(), v.astype(bool) if v.dtype == bool else v)


def test_bad_file_changes_no_model_and_no_checkpoint_state(tmp_path):
    model = cr.nn.Linear(2, 1)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    good = tmp_path / "good.safetensors"
    cr.save_checkpoint(good, model=cr.nn.Linear(2, 1), epoch=1)
    data = bytearray(good.read_bytes())
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data) + b"\x00")  # one trailing byte
    with pytest.raises(ValueError, match="trailing"):
        cr.load_checkpoint(bad, model=model)
    with pytest.raises(ValueError, match="trailing"):
        model.load_state_dict(cr.load(bad))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


# ----------------------------------------------------------------------------- round trips

NUMPY_ARRAYS = {
    "f64": np.array([[1.5, -2.0]], dtype=np.float64),
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "f16": np.array([0.5, 65504.0, -1e-4], dtype=np.float16),
    "i64": np.array([-(2**62), 3], dtype=np.int64),
    "i32": np.array([7, -8], dtype=np.int32),
    "i16": np.array([300, -300], dtype=np.int16),
    "i8": np.array([-128, 127], dtype=np.int8),
    "u8": np.array([0, 255], dtype=np.uint8),
    "b": np.array([True, False, True]),
    "scalar": np.array(3.25, dtype=np.float32),
    "scalar_int": np.array(4, dtype=np.int64),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "empty_i": np.zeros((2, 0), dtype=np.int64),
}


def test_reference_numpy_writes_chainrule_reads(tmp_path):
    p = tmp_path / "ref.safetensors"
    st_numpy.save_file(NUMPY_ARRAYS, str(p), metadata={"note": "x"})
    for ours in (cr.load(p), cr.io.load_file(p)):
        assert sorted(ours) == sorted(NUMPY_ARRAYS)
        for k, a in NUMPY_ARRAYS.items():
            assert ours[k].numpy().dtype == a.dtype and ours[k].shape == a.shape, k
            np.testing.assert_array_equal(ours[k].numpy(), a)


def test_chainrule_writes_reference_reads(tmp_path):
    tensors = {k: cr.from_numpy(a.copy()) for k, a in NUMPY_ARRAYS.items()}
    p = tmp_path / "ours.safetensors"
    cr.save(tensors, p)
    back = st_numpy.load_file(str(p))
    assert sorted(back) == sorted(NUMPY_ARRAYS)
    for k, a in NUMPY_ARRAYS.items():
        assert back[k].dtype == a.dtype and back[k].shape == a.shape, k
        np.testing.assert_array_equal(back[k], a)
    cr.io.save_file(tensors, p, metadata={"format": "pt"})
    from safetensors import safe_open

    with safe_open(str(p), framework="numpy") as f:
        assert f.metadata()["format"] == "pt"
        np.testing.assert_array_equal(f.get_tensor("f16"), NUMPY_ARRAYS["f16"])


def test_torch_round_trip_both_ways_with_bf16(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    src = {
        "bf16": torch.tensor([[1.5, -2.25], [3e38, 1e-3]]).to(torch.bfloat16),
        "f16": torch.tensor([0.5, -65504.0], dtype=torch.float16),
        "f32": torch.randn(2, 3),
        "f64": torch.randn(3, dtype=torch.float64),
        "i64": torch.tensor([1, -(2**40)]),
        "i32": torch.tensor([5], dtype=torch.int32),
        "u8": torch.tensor([0, 200], dtype=torch.uint8),
        "b": torch.tensor([True, False]),
        "scalar": torch.tensor(2.5),
        "scalar_bf16": torch.tensor(-1.75, dtype=torch.bfloat16),
        "empty": torch.zeros(0, 2),
        "empty_bf16": torch.zeros(3, 0, dtype=torch.bfloat16),
    }
    p = tmp_path / "torch.safetensors"
    save_file(src, str(p))
    ours = cr.load(p)
    for k, t in src.items():
        want = t.float() if t.dtype == torch.bfloat16 else t
        assert ours[k].shape == tuple(t.shape), k
        assert ours[k].numpy().dtype == want.numpy().dtype, k
        np.testing.assert_array_equal(ours[k].numpy(), want.numpy())
    # chainrule writes what it read (bf16 widened to float32, exactly) -> torch reads it back.
    q = tmp_path / "back.safetensors"
    cr.save(ours, q)
    back = load_file(str(q))
    for k, t in src.items():
        want = t.float() if t.dtype == torch.bfloat16 else t
        assert back[k].dtype == want.dtype and back[k].shape == t.shape, k
        assert torch.equal(back[k], want), k
    # torch bf16 tensors handed to cr.save are widened exactly as well.
    cr.save({"x": src["bf16"]}, q)
    assert torch.equal(load_file(str(q))["x"], src["bf16"].float())


def test_valid_dtypes_chainrule_cannot_hold_are_named(tmp_path):
    c64 = _file({"z": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8))
    assert st_numpy.load(c64)["z"].dtype == np.complex64
    with pytest.raises(ValueError, match="cannot load: tensor 'z' has dtype C64"):
        cr.load(c64)
    big = _file(
        {"u": {"dtype": "U64", "shape": [2], "data_offsets": [0, 16]}},
        b"\x01" + bytes(7) + b"\xff" * 8,
    )
    with pytest.raises(ValueError, match=r"tensor 'u' \(U64\) holds 18446744073709551615"):
        cr.load(big)
    fits = _file({"u": {"dtype": "U64", "shape": [1], "data_offsets": [0, 8]}}, b"\x07" + bytes(7))
    assert cr.load(fits)["u"].tolist() == [7] and cr.load(fits)["u"].dtype == cr.int64


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_torch_float8_is_widened_exactly(torch, name, tmp_path):
    from safetensors.torch import save_file

    codes = torch.arange(256, dtype=torch.uint8).view(getattr(torch, name))
    p = tmp_path / "f8.safetensors"
    save_file({"x": codes, "s": codes[3].clone()}, str(p))
    ours = cr.load(p)
    assert ours["x"].dtype == cr.float32 and ours["s"].shape == ()
    np.testing.assert_array_equal(ours["x"].numpy(), codes.float().numpy())  # NaN == NaN here
    np.testing.assert_array_equal(ours["s"].numpy(), codes[3].float().numpy())


def test_torch_float8_tensors_given_to_save_are_widened(torch, tmp_path):
    from safetensors.torch import load_file

    x = torch.tensor([0.5, -448.0, 2.0**-9]).to(torch.float8_e4m3fn)
    cr.save({"x": x}, tmp_path / "w.safetensors")
    back = load_file(str(tmp_path / "w.safetensors"))["x"]
    assert back.dtype == torch.float32 and torch.equal(back, x.float())


def test_load_file_accepts_safetensors_device_argument(tmp_path):
    p = tmp_path / "d.safetensors"
    cr.save({"a": cr.ones(2)}, p)
    assert cr.io.load_file(p, device="cpu")["a"].tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="'cuda'"):
        cr.io.load_file(p, device="cuda")
