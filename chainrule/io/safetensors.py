"""``save`` / ``load`` on safetensors files: no pickle, validated headers, atomic writes.

A file holds named tensors plus a ``__metadata__`` string map. A plain state_dict is stored as
exactly that (so ``safetensors.torch.load_file`` reads it into PyTorch); any other object (a
tensor, nested dicts / lists / tuples of tensors, numbers, strings, ``None``, bools) is stored as
its tensors plus a JSON description of the structure under the metadata key ``chainrule.layout``.

Loading parses and checks the header here, in plain Python, before reading any tensor: a
truncated, corrupt or foreign file (a pickle, a zip) raises ``ValueError`` naming the file and the
problem. Nothing is ever unpickled or executed. Writing goes through the ``safetensors`` package.
"""

from __future__ import annotations

import collections
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from .._tensor import Tensor, _make

__all__ = ["save", "load", "save_file", "load_file"]

LAYOUT_KEY = "chainrule.layout"
_MAX_HEADER = 100_000_000  # the safetensors reference implementation's limit (bytes)

# safetensors dtype tag -> NumPy dtype (BF16 is widened to float32 after reading).
_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"),
    "U32": np.dtype("<u4"),
    "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}
# unsigned wider than 8 bits has no chainrule dtype: keep the values in int64.
_WIDEN = {"U16": np.int64, "U32": np.int64, "U64": np.int64}
# float8 (torch.float8_e4m3fn / float8_e5m2) has no NumPy dtype: read as bytes, widened exactly
# to float32 through a 256-entry table, as BF16 is.
_DTYPES["F8_E4M3"] = _DTYPES["F8_E5M2"] = np.dtype("u1")
# Valid in the format (safetensors 0.8) but with no chainrule dtype to hold them.
_UNSUPPORTED = ("C64", "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ")


def _float8_table(exp_bits: int, man_bits: int, ieee: bool) -> np.ndarray:
    """float32 value of each of the 256 codes of a 1-sign, ``exp_bits``, ``man_bits`` float8.

    ``ieee``: the all-ones exponent means inf/NaN (E5M2); otherwise only S.1111.111 is NaN and
    there are no infinities (E4M3FN).
    """
    codes = np.arange(256)
    sign = np.where(codes >> 7, -1.0, 1.0)
    exp = (codes >> man_bits) & ((1 << exp_bits) - 1)
    man = codes & ((1 << man_bits) - 1)
    bias = (1 << (exp_bits - 1)) - 1
    normal = (1 + man / (1 << man_bits)) * np.exp2(exp - bias)
    subnormal = man / (1 << man_bits) * 2.0 ** (1 - bias)
    value = sign * np.where(exp == 0, subnormal, normal)
    top = exp == (1 << exp_bits) - 1
    if ieee:
        value = np.where(top, np.where(man == 0, sign * np.inf, np.nan), value)
    else:
        value = np.where(top & (man == (1 << man_bits) - 1), np.nan, value)
    return value.astype(np.float32)


# --------------------------------------------------------------------------- flattening


def _is_module(obj: Any) -> bool:
    return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "parameters", None))


def _to_array(x: Any) -> np.ndarray | None:
    """The ndarray to store for a tensor-like value, or None if ``x`` is not one."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        t = x.detach().cpu()
        if t.is_floating_point() and t.dtype.itemsize < 4 and str(t.dtype) != "torch.float16":
            t = t.float()  # bfloat16 / float8: no NumPy dtype; float32 holds them exactly
        return t.numpy()
    return None


def _check_array(a: np.ndarray, where: str) -> np.ndarray:
    a = np.asarray(a)  # a NumPy scalar (a 0-d result) has no buffer the writer can read
    if a.dtype.kind not in "biuf?" or a.dtype.itemsize > 8 or a.dtype.kind == "c":
        raise TypeError(f"cr.save: {where} has dtype {a.dtype}, which safetensors cannot store")
    return a if a.flags.c_contiguous else a.copy(order="C")  # ascontiguousarray makes 0-d 1-d


class _Flattener:
    """Turns an object into (tensors by name, JSON layout)."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}

    def name_for(self, path: str) -> str:
        name = path or "tensor"
        n = 1
        # "__metadata__" is the safetensors header's own key: a tensor of that name would make
        # the file unreadable, so it is renamed (the layout maps it back to the user's key).
        while name in self.tensors or name == "__metadata__":
            n += 1
            name = f"{path}#{n}"
        return name

    def node(self, obj: Any, path: str) -> Any:
        if _is_module(obj):
            raise TypeError(
                f"cr.save: cannot save a whole Module ({type(obj).__name__}); chainrule never "
                "pickles. Save its parameters instead: cr.save(model.state_dict(), path)"
            )
        arr = _to_array(obj)
        if arr is not None:
            name = self.name_for(path)
            self.tensors[name] = _check_array(arr, repr(path or "the tensor"))
            return {"T": name, "np": True} if isinstance(obj, np.ndarray) else {"T": name}
        if obj is None or isinstance(obj, bool | int | float | str):
            return {"v": obj}
        if isinstance(obj, np.generic):
            return {"v": obj.item()}
        if isinstance(obj, Mapping):
            items = []
            for k, v in obj.items():
                if not isinstance(k, str | int | float | bool) and k is not None:
                    raise TypeError(f"cr.save: dict key {k!r} at {path!r} is not a str or number")
                items.append([k, self.node(v, f"{path}.{k}" if path else str(k))])
            out: dict[str, Any] = {"d": items}
            if isinstance(obj, collections.OrderedDict):
                out["od"] = True
            return out
        if isinstance(obj, list | tuple):
            kids = [self.node(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
            return {"t": kids} if isinstance(obj, tuple) else {"l": kids}
        raise TypeError(
            f"cr.save: cannot store an object of type {type(obj).__name__} at {path!r}; "
            "supported: tensors, ndarrays, numbers, strings, None, bools, and dicts / lists / "
            "tuples of them"
        )


def _is_flat_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())
    )


def _serialize(obj: Any, metadata: Mapping[str, str] | None) -> bytes:
    from safetensors.numpy import save as st_save

    meta = {}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"cr.save: metadata must map str to str, got {k!r}: {v!r}")
        meta[k] = v
    flat = _Flattener()
    layout = flat.node(obj, "")
    if not _is_flat_state_dict(obj) or list(flat.tensors) != list(obj):
        meta[LAYOUT_KEY] = json.dumps(layout, allow_nan=True)
    elif isinstance(obj, Mapping):
        # Keep the key order of a plain state_dict (the file itself sorts tensors by dtype).
        meta[LAYOUT_KEY] = json.dumps(layout)
    return st_save(flat.tensors, metadata=meta or None)


# --------------------------------------------------------------------------- writing


def _write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, replace."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist.")
    if os.path.isdir(path):
        # Checked first so the error names the user's path, not the temporary file.
        raise IsADirectoryError(f"cr.save: {path!r} is a directory; give a file path")
    # mkstemp creates the file 0600; give the result the mode a plain open() would (or keep the
    # mode of the file being replaced).
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save(
    obj: Any, f: str | os.PathLike | BinaryIO, metadata: Mapping[str, str] | None = None, **_: Any
) -> None:
    """Save ``obj`` (a state_dict, a tensor, or nested containers of tensors and plain values).

    Args:
        obj: what to save. A whole Module raises ``TypeError``: save ``model.state_dict()``.
        f: a path (written atomically) or a binary file object (written with one ``write``).
        metadata: extra string-to-string entries for the file's ``__metadata__``.

    Example:
        >>> cr.save(model.state_dict(), "model.safetensors")  # doctest: +SKIP
    """
    data = _serialize(obj, metadata)
    if isinstance(f, str | os.PathLike):
        _write_bytes(os.fspath(f), data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(
            f"cr.save: f must be a path or a binary file object, got {type(f).__name__}"
        )


def save_file(
    tensors: Mapping[str, Any],
    filename: str | os.PathLike,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """``safetensors.torch.save_file``'s signature: a flat dict of tensors, saved atomically."""
    save(dict(tensors), filename, metadata=metadata)


# --------------------------------------------------------------------------- reading


def _read_source(f: Any) -> tuple[bytes, str]:
    if isinstance(f, str | os.PathLike):
        path = os.fspath(f)
        if not os.path.exists(path):
            raise FileNotFoundError(f"cr.load: no such file: {path!r}")
        with open(path, "rb") as fh:
            return fh.read(), path
    if hasattr(f, "read"):
        data = f.read()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("cr.load: the file object must be opened in binary mode")
        return bytes(data), repr(getattr(f, "name", "<file object>"))
    if isinstance(f, bytes | bytearray):
        return bytes(f), "<bytes>"
    raise TypeError(f"cr.load: f must be a path or a binary file object, got {type(f).__name__}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads object hook: a key given twice is an error (plain JSON keeps the last one),
    and so is a string the reference's strict JSON parser refuses (a lone UTF-16 surrogate)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _BadHeader(f"key {k!r} appears twice in the header")
        for text in (k, v) if isinstance(v, str) else (k,):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _BadHeader(f"{text!r} is not valid Unicode (a lone surrogate)") from None
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    """json.loads hook: NaN / Infinity are not JSON (Python accepts them, the reference not)."""
    raise _BadHeader(f"corrupted header, not JSON ({name} is not a JSON value)")


class _BadHeader(Exception):
    pass


def _is_uint(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check_entry(
    name: str, info: Any, bad: Any, unsupported: Any
) -> tuple[str, list[int], int, int]:
    """Validate one tensor entry of the header; return (dtype tag, shape, begin, end)."""
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise bad(f"tensor {name!r}: entry needs dtype, shape and data_offsets, got {info!r}")
    tag, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if tag in _UNSUPPORTED:
        raise unsupported(
            f"tensor {name!r} has dtype {tag}, which chainrule has no dtype to hold (no complex, "
            "float4/6 or FNUZ/E8M0 float8); convert it before saving"
        )
    if not isinstance(tag, str) or tag not in _DTYPES:
        raise bad(f"tensor {name!r}: unknown dtype tag {tag!r} (known: {sorted(_DTYPES)})")
    if not isinstance(shape, list) or not all(_is_uint(s) for s in shape):
        raise bad(f"tensor {name!r}: bad shape {shape!r} (a list of non-negative integers)")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_uint, offsets)):
        raise bad(f"tensor {name!r}: bad data_offsets {offsets!r} (two non-negative integers)")
    begin, end = offsets
    if end < begin:
        raise bad(f"tensor {name!r}: data_offsets {offsets} end before they begin")
    return tag, shape, begin, end


def parse(data: bytes, source: str = "<bytes>") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Validate a safetensors byte string and return (arrays in header order, metadata).

    The checks are the reference implementation's (``safetensors`` 0.8): header length within
    the file and at most 100 MB, UTF-8 JSON object header, ``__metadata__`` a str -> str map,
    known dtypes, tensors whose byte ranges tile the data section exactly (sorted by offset, each
    starting where the previous one ends, no overlap, no gap, nothing past the end and no
    trailing bytes), and byte sizes equal to ``prod(shape) * itemsize``. chainrule also rejects
    a key given twice in the header (the reference keeps the last one). Every check runs before
    any array is built, and the error names the file, the tensor and what is wrong.
    """

    def bad(msg: str) -> ValueError:
        return ValueError(f"{source}: not a valid safetensors file: {msg}")

    def unsupported(msg: str) -> ValueError:  # a valid file chainrule cannot represent
        return ValueError(f"{source}: cannot load: {msg}")

    if (
        data[:1] == b"\x80"
        and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
        or data[:4] == b"PK\x03\x04"
    ):
        kind = "a zip archive (torch.save's format)" if data[:2] == b"PK" else "a pickle"
        raise ValueError(
            f"{source}: not a safetensors file: it is {kind}. chainrule never unpickles files "
            "(unpickling can run arbitrary code). In PyTorch, re-save the tensors as safetensors: "
            "safetensors.torch.save_file(model.state_dict(), path)"
        )
    if len(data) < 8:
        raise bad(f"{len(data)} bytes is too short for the 8-byte header length (truncated?)")
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER:
        raise bad(
            f"header too large: the first 8 bytes give a header length of {n} bytes (limit "
            f"{_MAX_HEADER}); a different format, or a corrupted length"
        )
    if n > len(data) - 8:
        raise bad(
            f"header length {n} runs past the end of the file ({len(data)} bytes): truncated, "
            "or a different format (a pickle or zip file saved by torch.save? chainrule never "
            "unpickles)"
        )
    if n < 2:
        raise bad(f"implausible header length {n} (the smallest header, '{{}}', has 2 bytes)")
    raw = data[8 : 8 + n]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"the header is not valid UTF-8 ({e})") from None
    # The reference reader lets JSON whitespace precede the '{' (the spec pads with spaces).
    if not text.lstrip(" \t\r\n").startswith("{"):
        raise bad("the header does not start with '{' (corrupted header or a different format)")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _BadHeader as e:
        raise bad(str(e)) from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise bad(f"corrupted header, not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise bad(f"__metadata__ must map strings to strings, got {type(metadata).__name__}")
    for k, v in metadata.items():
        if not isinstance(v, str):
            raise bad(f"__metadata__[{k!r}] must be a string, got {type(v).__name__} {v!r}")
    body = memoryview(data)[8 + n :]
    entries = {k: _check_entry(k, info, bad, unsupported) for k, info in header.items()}
    # The byte ranges, taken in offset order, must tile the data section: each starts where
    # the previous one ended (overlap, gap and a duplicated range are all caught here).
    covered, last = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != covered:
            what = "overlaps" if begin < covered else "leaves a gap after"
            prev = f"tensor {last!r}" if last is not None else "the start of the data section"
            raise bad(
                f"tensor {name!r}: data_offsets [{begin}, {end}] {what} {prev} (which ends at "
                f"byte {covered}); tensors must be stored back to back"
            )
        if end > len(body):
            raise bad(
                f"tensor {name!r}: data_offsets [{begin}, {end}] run past the end of the data "
                f"section ({len(body)} bytes): out of range (truncated file?)"
            )
        covered, last = end, name
    for name, (tag, shape, begin, end) in entries.items():
        expected = math.prod(shape) * _DTYPES[tag].itemsize
        if end - begin != expected:
            raise bad(
                f"tensor {name!r}: data_offsets [{begin}, {end}] hold {end - begin} bytes, but "
                f"shape {shape} and dtype {tag} take {expected} (expected {expected})"
            )
    if covered != len(body):
        raise bad(
            f"the data section has {len(body)} bytes but the tensors' data_offsets cover "
            f"{covered}"
            + (f" (the last, {last!r}, ends there)" if last is not None else "")
            + ": trailing bytes, or offsets that do not describe this file"
        )
    arrays: dict[str, np.ndarray] = {}
    for name, (tag, shape, begin, end) in entries.items():
        arr = np.frombuffer(body[begin:end], dtype=_DTYPES[tag]).reshape(shape).copy()
        if tag == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif tag == "F8_E4M3":
            arr = _float8_table(4, 3, ieee=False)[arr]
        elif tag == "F8_E5M2":
            arr = _float8_table(5, 2, ieee=True)[arr]
        elif tag == "U64" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise unsupported(
                f"tensor {name!r} (U64) holds {int(arr.max())}, which does not fit chainrule's "
                "int64"
            )
        elif tag == "BOOL":
            arr = arr.view(np.uint8) != 0  # a byte other than 0/1 is still a valid bool
        elif tag in _WIDEN:
            arr = arr.astype(_WIDEN[tag])
        # (shifts and comparisons on a 0-d array return NumPy scalars: asarray keeps 0-d arrays)
        arrays[name] = np.asarray(arr).astype(arr.dtype.newbyteorder("="), copy=False)
    return arrays, metadata


def _build(node: Any, arrays: dict[str, np.ndarray], source: str) -> Any:
    if not isinstance(node, dict):
        raise ValueError(f"{source}: corrupted chainrule layout entry {node!r}")
    if "T" in node:
        if node["T"] not in arrays:
            raise ValueError(f"{source}: layout names tensor {node['T']!r}, missing from the file")
        arr = arrays[node["T"]]
        return arr if node.get("np") else _make(arr)
    if "v" in node:
        return node["v"]
    if "d" in node:
        cls = collections.OrderedDict if node.get("od") else dict
        return cls((k, _build(v, arrays, source)) for k, v in node["d"])
    if "l" in node:
        return [_build(v, arrays, source) for v in node["l"]]
    if "t" in node:
        return tuple(_build(v, arrays, source) for v in node["t"])
    raise ValueError(f"{source}: corrupted chainrule layout entry {node!r}")


def load_with_metadata(f: Any) -> tuple[Any, dict[str, str]]:
    """Like ``load``, also returning the file's ``__metadata__`` map."""
    data, source = _read_source(f)
    arrays, metadata = parse(data, source)
    layout = metadata.get(LAYOUT_KEY)
    if layout is None:
        return {k: _make(v) for k, v in arrays.items()}, metadata
    try:
        tree = json.loads(layout)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}: corrupted {LAYOUT_KEY} metadata ({e})") from None
    try:
        return _build(tree, arrays, source), metadata
    except (TypeError, ValueError, KeyError) as e:
        # A hand-edited or damaged layout: name the file instead of a bare unpacking error.
        if str(e).startswith(source):
            raise
        raise ValueError(f"{source}: corrupted {LAYOUT_KEY} metadata ({e})") from None


def load(
    f: str | os.PathLike | BinaryIO,
    map_location: Any = None,
    weights_only: bool = True,
    mmap: bool | None = None,
    **_: Any,
) -> Any:
    """Load what ``save`` stored (or any safetensors file: a dict of tensors).

    ``map_location``, ``weights_only`` and ``mmap`` are accepted for PyTorch compatibility and
    ignored: everything is on the CPU and nothing is ever unpickled.

    Raises:
        FileNotFoundError: no file at the path.
        ValueError: the file is truncated, corrupt, or not a safetensors file (names the path).
    """
    return load_with_metadata(f)[0]


def load_file(filename: str | os.PathLike, device: Any = "cpu") -> dict[str, Tensor]:
    """``safetensors.torch.load_file``'s signature: the file's tensors as a flat dict.

    ``device`` is accepted for compatibility; anything but the CPU raises ``RuntimeError``.
    """
    if str(getattr(device, "type", device)).split(":")[0] != "cpu":
        raise RuntimeError(
            f"load_file: device {device!r} is not available; chainrule runs on the CPU"
        )
    data, source = _read_source(filename)
    arrays, _ = parse(data, source)
    return {k: _make(v) for k, v in arrays.items()}
