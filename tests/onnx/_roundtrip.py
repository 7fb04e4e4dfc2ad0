"""Shared helper: export a model, check the file, run it in onnxruntime at two batch sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _leaves(out: Any) -> list[np.ndarray]:
    if isinstance(out, cr.Tensor):
        return [out.detach().numpy()]
    if isinstance(out, tuple | list):
        return [a for o in out for a in _leaves(o)]
    return []


def _resize(x: cr.Tensor, batch: int, axis: int, rng: np.random.Generator) -> cr.Tensor:
    """A fresh input like ``x`` with ``batch`` entries along ``axis``."""
    a = x.numpy()
    shape = list(a.shape)
    shape[axis] = batch
    if a.dtype.kind in "iu":
        return cr.tensor(rng.integers(0, int(a.max()) + 1, size=shape).astype(a.dtype))
    if a.dtype == np.bool_:
        return cr.tensor(rng.random(shape) < 0.5)
    return cr.tensor(rng.standard_normal(shape).astype(a.dtype))


def roundtrip(
    model: Any,
    inputs: Any,
    tmp_path: Path,
    *,
    batches: tuple[int, ...] = (3,),
    batch_axis: int = 0,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    **kwargs: Any,
) -> Any:
    """Export ``model`` on ``inputs``, check the file and compare onnxruntime with chainrule.

    Compares at the traced batch size and at each size in ``batches`` (axis ``batch_axis`` of
    every input). Returns the loaded ONNX model.
    """
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    call_kw: dict = {}
    if args and isinstance(args[-1], dict):
        args, call_kw = args[:-1], args[-1]
    path = tmp_path / "model.onnx"
    cr.onnx.export(model, inputs, path, **kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    rng = np.random.default_rng(1)
    if hasattr(model, "eval"):
        model.eval()
    for b in (None, *batches):
        feed = args if b is None else tuple(_resize(a, b, batch_axis, rng) for a in args)
        kw = {
            k: (v if b is None or not isinstance(v, cr.Tensor) else _resize(v, b, batch_axis, rng))
            for k, v in call_kw.items()
        }
        with cr.no_grad():
            expected = _leaves(model(*feed, **kw))
        tensors = list(feed) + [v for v in kw.values() if isinstance(v, cr.Tensor)]
        got = sess.run(None, {n: a.numpy() for n, a in zip(names, tensors)})
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            assert o.shape == e.shape, (o.shape, e.shape)
            assert o.dtype == e.dtype, (o.dtype, e.dtype)
            np.testing.assert_allclose(o, e, rtol=rtol, atol=atol)
    return proto
