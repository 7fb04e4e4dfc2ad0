"""Bad input to onnx.export: unmapped ops name the op and module, no file is left behind."""

from __future__ import annotations

import builtins
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from chainrule.onnx import UnsupportedOperatorError  # noqa: E402
from chainrule.onnx._converters import CONVERTERS  # noqa: E402


class NumpyDouble(cr.autograd.Function):
    """A user op computed in NumPy: invisible to the tracer."""

    @staticmethod
    def forward(ctx, x):
        return cr.tensor(x.detach().numpy() * 2.0)

    @staticmethod
    def backward(ctx, g):
        return g * 2.0


class Mod(nn.Module):
    def forward(self, x):
        return x % 1.5


class Inner(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Outer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.blocks = nn.ModuleList([Inner(lambda x: x * 2), Inner(fn)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def _no_partial(tmp_path) -> None:
    assert os.listdir(tmp_path) == []


def test_unmapped_op_names_op_and_module_and_leaves_no_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delitem(CONVERTERS, "remainder")
    model = Outer(lambda x: x % 1.5)
    with pytest.raises(UnsupportedOperatorError) as info:
        cr.onnx.export(model, cr.randn(2, 3), tmp_path / "m.onnx")
    msg = str(info.value)
    assert "'remainder'" in msg and "'blocks.1'" in msg and "Inner" in msg
    assert isinstance(info.value, RuntimeError)
    _no_partial(tmp_path)


def test_unmapped_op_in_top_level_module(tmp_path, monkeypatch) -> None:
    monkeypatch.delitem(CONVERTERS, "remainder")
    with pytest.raises(UnsupportedOperatorError, match="top-level module \\(Mod\\)"):
        cr.onnx.export(Mod(), cr.randn(2, 3), tmp_path / "m.onnx")
    _no_partial(tmp_path)


def test_existing_file_is_kept_on_error(tmp_path, monkeypatch) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    monkeypatch.delitem(CONVERTERS, "remainder")
    with pytest.raises(UnsupportedOperatorError):
        cr.onnx.export(Mod(), cr.randn(2, 3), path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_numpy_function_is_reported_not_frozen(tmp_path) -> None:
    model = Outer(lambda x: NumpyDouble.apply(x) + 1)
    with pytest.raises(UnsupportedOperatorError) as info:
        cr.onnx.export(model, cr.randn(2, 3), tmp_path / "m.onnx")
    assert "NumpyDouble" in str(info.value) and "'blocks.1'" in str(info.value)
    _no_partial(tmp_path)


def test_integer_bitwise_needs_opset_18(tmp_path) -> None:
    model = Inner(lambda x: ((x > 0).long() & 1).float())
    with pytest.raises(UnsupportedOperatorError, match="'bitwise_and'.*opset"):
        cr.onnx.export(model, cr.randn(2, 3), tmp_path / "m.onnx")
    _no_partial(tmp_path)


def test_wrong_input_shape_raises_the_models_own_error(tmp_path) -> None:
    model = nn.Linear(4, 3)
    with pytest.raises(RuntimeError) as ours:
        cr.onnx.export(model, cr.randn(2, 5), tmp_path / "m.onnx")
    with pytest.raises(RuntimeError) as direct:
        model(cr.randn(2, 5))
    assert str(ours.value) == str(direct.value)
    _no_partial(tmp_path)
    # the tracer is switched off again: ordinary calls work and record nothing
    from chainrule.ops import _registry

    assert _registry._tracer is None
    model(cr.randn(2, 4))


def test_bad_example_input(tmp_path) -> None:
    with pytest.raises(TypeError, match="example_input"):
        cr.onnx.export(nn.Linear(4, 3), "x", tmp_path / "m.onnx")
    _no_partial(tmp_path)


def test_unknown_dynamic_axes_name(tmp_path) -> None:
    with pytest.raises(ValueError, match="dynamic_axes"):
        cr.onnx.export(
            nn.Linear(4, 3), cr.randn(2, 4), tmp_path / "m.onnx", dynamic_axes={"nope": [0]}
        )
    _no_partial(tmp_path)


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install chainrule\[onnx\]"):
        cr.onnx.export(nn.Linear(4, 3), cr.randn(2, 4), tmp_path / "m.onnx")
    _no_partial(tmp_path)


def test_import_chainrule_onnx_does_not_import_onnx() -> None:
    import subprocess
    import sys

    code = (
        "import sys, chainrule, chainrule.onnx; "
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules, "
        "[m for m in sys.modules if m.startswith('onnx')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_outputs_match_after_error(tmp_path, monkeypatch) -> None:
    # A failed export leaves the model usable and in its original mode.
    monkeypatch.delitem(CONVERTERS, "remainder")
    model = Outer(lambda x: x % 1.5)
    model.train()
    with pytest.raises(UnsupportedOperatorError):
        cr.onnx.export(model, cr.randn(2, 3), tmp_path / "m.onnx")
    assert model.training and all(m.training for m in model.modules())
    x = cr.randn(2, 3)
    np.testing.assert_allclose(model(x).numpy(), (x.numpy() * 2) % 1.5, rtol=1e-6)


def test_lstm_projection_is_reported(tmp_path) -> None:
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.LSTM(4, 6, proj_size=3, batch_first=True)

        def forward(self, x):
            return self.encoder(x)[0]

    with pytest.raises(UnsupportedOperatorError, match="'lstm_layer'.*'encoder' \\(LSTM\\).*proj"):
        cr.onnx.export(Net(), cr.randn(2, 5, 4), tmp_path / "m.onnx")
    _no_partial(tmp_path)


def test_constant_output_warns(tmp_path) -> None:
    class Frozen(nn.Module):
        def forward(self, x):
            return cr.tensor(x.detach().numpy() * 2.0)

    with pytest.warns(UserWarning, match="does not depend on the inputs"):
        cr.onnx.export(Frozen(), cr.randn(2, 3), tmp_path / "m.onnx")
