"""ONNX export of models written with raw tensor ops: every mapping against onnxruntime."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _roundtrip import roundtrip  # noqa: E402


class Fn(nn.Module):
    """A module whose forward is ``fn(self, *inputs)`` and which owns a (4, 5) weight."""

    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn
        self.weight = nn.Parameter(cr.randn(5, 5))
        self.register_buffer("offset", cr.randn(5))

    def forward(self, *xs):
        return self.fn(self, *xs)


def X(*shape):
    return cr.randn(*shape)


CASES = {
    "arith": lambda m, x: (x + 1.5) * x - x / (x.abs() + 2.0) + 2 ** x.tanh() - 3.0 / (x * x + 1),
    "pow": lambda m, x: x.abs() ** 1.5 + x**2,
    "unary": lambda m, x: (
        x.exp()
        + (x.abs() + 1).log()
        + x.abs().sqrt()
        + x.sin()
        + x.cos()
        + x.sigmoid()
        + x.relu()
        + x.erf()
        + x.erfc()
        + cr.special.erfcx(x)
        + cr.special.log_ndtr(x)
        + (x.abs() + 1).rsqrt()
        + x.square()
        + (x.abs() + 1).log1p()
        + (x * x + 1).reciprocal()
        - x.neg()
    ),
    "rounding": lambda m, x: (
        (x * 3).floor() + (x * 3).ceil() + (x * 3).round() + (x * 3).trunc() + x.sign()
    ),
    "remainder": lambda m, x: (x * 5) % 1.5 + (x * 5) // 2.0,
    "clamp": lambda m, x: x.clamp(-0.5, 0.5) + x.clamp(min=0.1) + x.clamp(max=m.offset),
    "max_min": lambda m, x: cr.maximum(x, m.offset) + cr.minimum(x, 0.2 * m.offset),
    "where": lambda m, x: cr.where(x > 0, x, m.offset) + cr.where(x <= m.offset, 1.0, x),
    "compare": lambda m, x: (
        ((x > 0) & (x < 1)).float()
        + (x == x).float()
        + (x != 0).float()
        + (~(x >= 0.5)).float()
        + ((x < -1) | (x > 1)).float()
        + x.isfinite().float()
    ),
    "reduce": lambda m, x: (
        x.sum(1, keepdim=True)
        + x.mean(-1, keepdim=True)
        + x.amax(1, keepdim=True)
        + x.amin(1, keepdim=True)
        + x.prod(1, keepdim=True)
    ),
    "reduce_all": lambda m, x: x.sum() + x.mean() + x.max() + x.min() + x * 0,
    "max_dim": lambda m, x: (
        x.max(1).values + x.min(dim=1)[0] + x.argmax(1).float() + x.argmin(dim=-1).float()
    ),
    "stats": lambda m, x: (
        x.var(1)
        + x.std(1, keepdim=False)
        + x.logsumexp(1)
        + x.norm(dim=1)
        + x.norm(p=1, dim=1)
        + x.var(0).sum()
    ),
    "cumsum": lambda m, x: x.cumsum(1),
    "matmul": lambda m, x: (
        x @ m.weight + (x @ m.weight.T).tanh() @ m.weight + (x @ m.offset)[:, None]
    ),
    "matmul_3d": lambda m, x: x.reshape(x.shape[0], 1, 5) @ m.weight.expand(1, 5, 5),
    "einsum": lambda m, x: cr.einsum("bi,ij->bj", x, m.weight),
    "outer": lambda m, x: x.sum(0)[0] * cr.outer(m.offset, m.offset),
    "reshape": lambda m, x: (
        x.reshape(-1, 5, 1).flatten(1)
        + x.view(x.shape[0], 5)
        + x.unsqueeze(1).squeeze(1)
        + x.unflatten(1, (5, 1)).squeeze(-1)
    ),
    "permute": lambda m, x: (
        x.reshape(x.shape[0], 5, 1).permute(0, 2, 1).transpose(1, 2).squeeze(2) + m.weight.T[0]
    ),
    "expand": lambda m, x: x.unsqueeze(1).expand(-1, 3, -1).sum(1) + m.offset.expand(2, 5).sum(0),
    "flip_roll": lambda m, x: x.flip(1) + x.roll(2, 1) + x.flip(-1).roll(-1, dims=1),
    "cat_stack": lambda m, x: (
        cr.cat([x, x * 2], 1).sum(1, keepdim=True)
        + cr.stack([x, x + 1], 1).sum(1)
        + cr.stack([x, x], -1).mean(-1)
    ),
    "split_chunk": lambda m, x: (
        sum(p.sum(1, keepdim=True) for p in x.split(2, 1))
        + sum(p.mean(1, keepdim=True) for p in x.chunk(3, dim=1))
        + x.unbind(1)[2].unsqueeze(1)
    ),
    "pad": lambda m, x: cr.nn.functional.pad(x, (1, 2), value=0.5)[:, 2:7],
    "tri": lambda m, x: x @ m.weight.tril() + x @ m.weight.triu(1),
    "repeat": lambda m, x: x.repeat(1, 2)[:, :5] + m.offset.repeat(2, 1)[0],
    "slices": lambda m, x: (
        x[:, 1:4].sum(1, keepdim=True)
        + x[:, -1:]
        + x[:, ::2].sum(1, True)
        + x[..., 0:1]
        + x[:, None, 2]
        + x[:, -1].unsqueeze(1)
        + x[:, :, None][:, 0]
        + x.flip(1)[:, :1]
    ),
    "batch_slice": lambda m, x: (
        x[1:] * 0 + x[:-1].sum() + x[0] * 0 if False else x[:, 3:] * x[:, :2]
    ),
    "int_index": lambda m, x: x[:, [0, 2, 2]] + m.weight[[1, 3, 4]][:, :3].sum(0),
    "multi_index": lambda m, x: (
        x[:, [0, 1]]
        + m.weight[[0, 1], [2, 3]]
        + m.weight[cr.tensor([[1], [2]]), cr.tensor([0, 1])].sum(0)
    ),
    "bool_mask": lambda m, x: x.sum() + m.weight[m.weight > 0].sum() + x[x > 0].sum(),
    "gather": lambda m, x: (
        x.gather(1, x.abs().argmax(1, keepdim=True))
        + x.index_select(1, cr.tensor([4, 0]))
        + x[:, cr.tensor([1, -1])]
    ),
    "masked_fill": lambda m, x: (
        x.masked_fill(x > 0.5, -1.0) + m.weight[0].masked_fill(m.offset > 0, 0.0)
    ),
    "softmax": lambda m, x: x.softmax(-1) + x.log_softmax(dim=1) + x.softmax(0),
    "scatter_add": lambda m, x: (
        cr.zeros(2, 5).scatter_add(0, cr.tensor([[0, 1, 0, 1, 0]]), m.offset[None]).sum(0) + x
    ),
    "dtype": lambda m, x: (x > 0).long().float() + x.double().float() + (x * 4).int().float(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_roundtrip(name: str, tmp_path) -> None:
    model = Fn(CASES[name])
    roundtrip(model, X(4, 5), tmp_path)


def test_initialisers_are_named_after_state_dict_keys(tmp_path) -> None:
    model = Fn(lambda m, x: x @ m.weight + m.offset)
    proto = roundtrip(model, X(2, 5), tmp_path)
    names = {i.name for i in proto.graph.initializer}
    assert {"weight", "offset"} <= names
    w = next(i for i in proto.graph.initializer if i.name == "weight")
    from onnx import numpy_helper

    np.testing.assert_array_equal(numpy_helper.to_array(w), model.weight.detach().numpy())


def test_dynamic_batch_is_the_default_and_named(tmp_path) -> None:
    model = Fn(lambda m, x: (x @ m.weight).reshape(x.shape[0], 5, 1).flatten(1))
    proto = roundtrip(model, X(2, 5), tmp_path, batches=(1, 7))
    (inp,) = proto.graph.input
    (out,) = proto.graph.output
    assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert out.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert out.type.tensor_type.shape.dim[1].dim_value == 5


def test_names_and_explicit_dynamic_axes(tmp_path) -> None:
    model = Fn(lambda m, x, y: (x @ m.weight + y, x.sum(-1)))
    proto = roundtrip(
        model,
        (X(3, 5), X(3, 5)),
        tmp_path,
        input_names=["a", "b"],
        output_names=["y", "s"],
        dynamic_axes={"a": {0: "n"}, "b": [0], "y": {0: "n"}},
    )
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == ["y", "s"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"


def test_static_shapes_when_dynamic_axes_is_empty(tmp_path) -> None:
    model = Fn(lambda m, x: x @ m.weight)
    path = tmp_path / "m.onnx"
    cr.onnx.export(model, X(2, 5), path, dynamic_axes={})
    import onnx

    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 5]


def test_opset_18(tmp_path) -> None:
    model = Fn(CASES["stats"])
    proto = roundtrip(model, X(4, 5), tmp_path, opset_version=18)
    assert proto.opset_import[0].version == 18


def test_bad_opset(tmp_path) -> None:
    with pytest.raises(ValueError, match="opset_version"):
        cr.onnx.export(Fn(CASES["arith"]), X(2, 5), tmp_path / "m.onnx", opset_version=9)
    assert not (tmp_path / "m.onnx").exists()


def test_training_mode_is_restored(tmp_path) -> None:
    model = Fn(CASES["arith"])
    model.train()
    cr.onnx.export(model, X(2, 5), tmp_path / "m.onnx")
    assert model.training
    model.eval()
    cr.onnx.export(model, X(2, 5), tmp_path / "m.onnx")
    assert not model.training


def test_inputs_untouched(tmp_path) -> None:
    x = X(2, 5)
    model = Fn(CASES["arith"])
    cr.onnx.export(model, x, tmp_path / "m.onnx")
    assert not x.requires_grad and x.grad is None
    assert all(p.grad is None for p in model.parameters())


def test_file_object(tmp_path) -> None:
    import io

    import onnx

    buf = io.BytesIO()
    cr.onnx.export(Fn(CASES["arith"]), X(2, 5), buf)
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()), full_check=True)


def _setitem(m, x):
    y = x * 1.0
    y[:, 0] = 0.0
    y[:, 2:4] = x[:, :2] * 3
    y[..., -1] = m.offset[1]
    return y


def test_setitem_in_forward(tmp_path) -> None:
    roundtrip(Fn(_setitem), X(3, 5), tmp_path)


def test_setitem_with_index_arrays_exports_fixed_shapes(tmp_path) -> None:
    def fn(m, x):
        y = x * 1.0
        y[:, [0, 3]] = 1.0
        return y

    roundtrip(Fn(fn), X(3, 5), tmp_path, batches=(), dynamic_axes={})


def test_batch_dependent_reshape_falls_back_to_fixed_shapes(tmp_path) -> None:
    model = Fn(lambda m, x: x.reshape(-1, 4) * 2)
    with pytest.warns(UserWarning, match="batch axis cannot stay dynamic"):
        cr.onnx.export(model, X(2, 6), tmp_path / "m.onnx")
    import onnx

    dims = onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 6]
    roundtrip(model, X(2, 6), tmp_path, batches=(), dynamic_axes={})


def test_keyword_inputs(tmp_path) -> None:
    class M(nn.Module):
        def forward(self, x, scale=None, shift=1.0):
            return x * scale + shift

    proto = roundtrip(M(), (X(2, 3), {"scale": X(2, 3), "shift": 0.5}), tmp_path, batches=())
    assert [i.name for i in proto.graph.input] == ["input", "scale"]


def test_float64_model(tmp_path) -> None:
    model = Fn(lambda m, x: (x @ m.weight).tanh().softmax(-1) + m.offset)
    model.double()
    roundtrip(model, X(3, 5).double(), tmp_path, rtol=1e-10, atol=1e-12)


def test_int_and_bool_inputs(tmp_path) -> None:
    model = Fn(lambda m, i, b: m.weight[i].sum(1) * b.float())
    ids = cr.tensor(np.array([[0, 4], [2, 3], [1, 1]]))
    mask = cr.tensor(np.array([[True, False, True, True, False]] * 3))
    roundtrip(model, (ids, mask), tmp_path)


def test_input_named_like_a_parameter(tmp_path) -> None:
    model = Fn(lambda m, x: x @ m.weight + m.offset)
    roundtrip(model, X(2, 5), tmp_path, input_names=["weight"], output_names=["offset"])


@pytest.mark.parametrize("opset", [18, 19, 20, 21])
def test_newer_opsets(opset: int, tmp_path) -> None:
    def fn(m, x):
        h = nn.functional.gelu(x @ m.weight) + nn.functional.gelu(x, approximate="tanh")
        h = nn.functional.layer_norm(h, (5,)) + x.var(1, keepdim=True) + x.amax(1, keepdim=True)
        return h.reshape(x.shape[0], 5, 1).flatten(1).log_softmax(-1) + x.norm(dim=1)[:, None]

    import onnxruntime

    if opset > 21 and onnxruntime.__version__ < "1.20":  # pragma: no cover
        pytest.skip("old onnxruntime")
    roundtrip(Fn(fn), X(3, 5), tmp_path, opset_version=opset)


def test_plain_function_model(tmp_path) -> None:
    roundtrip(lambda x: (x * 2).relu().sum(1), X(3, 4), tmp_path)


def test_output_is_input_and_parameter(tmp_path) -> None:
    model = Fn(lambda m, x: (x, m.weight, x * 2, x))
    proto = roundtrip(model, X(2, 5), tmp_path)
    assert len(proto.graph.output) == 4


MORE = {
    "int_math": lambda m, x: (
        ((x * 10).long() // 3 + (x * 10).long() % 4).float()
        + ((x * 7).int() - 2).clamp(-3, 3).float()
    ),
    "bool_reductions": lambda m, x: (
        (x > 0).sum(1, keepdim=True).float()
        + (x > 0).cumsum(1).float()
        + (x > 0).any(1, keepdim=True).float()
        + (x > 0).all(1, keepdim=True).float()
    ),
    "arg_all": lambda m, x: x.argmax().float() + x.argmin(1, keepdim=True).float() + x * 0,
    "norms": lambda m, x: (
        x.norm(p=float("inf"), dim=1)
        + x.norm(p=float("-inf"), dim=1)
        + x.norm(p=0, dim=1)
        + x.norm(p=3, dim=1)
        + x.std(1, correction=0)
        + x.prod(1)
    ),
    "logical": lambda m, x: ((x > 0).logical_and(x < 1) | (x > 2).logical_not() ^ (x < -1)).float(),
    "round_decimals": lambda m, x: (x * 100).round(decimals=-1) + x.round(decimals=2),
    "nan_checks": lambda m, x: (x / (x - x)).isnan().float() + (x / 0.0).isinf().float(),
    "int_pow_where": lambda m, x: cr.where(x > 0, (x * 4).long(), 2).float() ** 1.5,
    "einsum_ellipsis": lambda m, x: (
        cr.einsum("...i,ji->...j", x, m.weight) + cr.einsum("bi,bi->b", x, x)[:, None]
    ),
    "matmul_1d": lambda m, x: (
        (m.offset @ m.weight)[None]
        + (x @ m.offset)[:, None]
        + (x.reshape(x.shape[0], 1, 5) @ m.offset)[:, :1]
    ),
    "flip_roll_multi": lambda m, x: (
        x.reshape(x.shape[0], 5, 1).flip((1, 2)).roll((1, 0), (1, 2)).squeeze(2)
    ),
    "split_uneven": lambda m, x: cr.cat(list(x.split([1, 3, 1], 1))[::-1], 1),
    "tri_diag": lambda m, x: x @ m.weight.tril(-1) + x @ m.weight.triu(2),
    "repeat_lead": lambda m, x: x.repeat(2, 1, 1).sum(0),
    "stack_last": lambda m, x: cr.stack([x, -x, 2 * x], dim=-1).amax(-1),
    "cat_int": lambda m, x: cr.cat([(x > 0).long(), (x < 0).long()], 1).float()[:, :5],
    "expand_lead": lambda m, x: m.offset.expand(3, 2, 5).sum((0, 1)) + x,
    # (torch forbids negative slice steps, ValueError; a reversal is flip)
    "neg_step": lambda m, x: (
        x.flip(1) + x[:, 0::2].sum(1, keepdim=True) + x[..., None, 1:3][:, 0].sum(1, keepdim=True)
    ),
    "bool_2d_index": lambda m, x: x.sum() + m.weight[m.weight.abs() > 0.5].sum() + x * 0,
    "arrays_apart": lambda m, x: (
        m.weight.reshape(5, 1, 5)[[0, 1], :, [2, 3]].sum()
        + x
        + x.reshape(x.shape[0], 5, 1)[:, [1, 2, 2], 0].sum(1, keepdim=True)
    ),
    "gather_dim0": lambda m, x: m.weight.gather(0, cr.tensor([[0, 1, 2, 3, 4]])) + x,
    "like": lambda m, x: (
        cr.zeros_like(x)
        + cr.ones_like(x) * 2
        + cr.full_like(x, 0.5)
        + x
        + cr.ones_like(x, dtype=cr.int64).float()
        + cr.zeros_like(x > 0).float()
    ),
    "softmax_dims": lambda m, x: (
        x.reshape(x.shape[0], 5, 1).softmax(1).squeeze(-1) + x.log_softmax(0)
    ),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_ops(name: str, tmp_path) -> None:
    roundtrip(Fn(MORE[name]), X(4, 5), tmp_path)


def test_integer_bitwise_at_opset_18(tmp_path) -> None:
    model = Fn(lambda m, x: (((x > 0).long() * 6) & 3 | 8 ^ 1).float() + (~(x > 0).long()).float())
    roundtrip(model, X(3, 5), tmp_path, opset_version=18)


def test_torch_keyword_names(tmp_path) -> None:
    import onnx

    model = Fn(CASES["arith"])
    cr.onnx.export(
        model,
        args=(X(2, 5),),
        f=str(tmp_path / "m.onnx"),
        do_constant_folding=True,
        export_params=True,
        verbose=False,
    )
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    with pytest.raises(TypeError):
        cr.onnx.export(model, X(2, 5))


def test_fixed_shape_fallback_uses_the_example_batch(tmp_path) -> None:
    model = Fn(lambda m, x: x.reshape(3, -1) * 2)
    with pytest.warns(UserWarning, match="batch axis cannot stay dynamic"):
        cr.onnx.export(model, X(1, 6), tmp_path / "m.onnx")
    import onnx

    dims = onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 6]


def test_reshape_that_splits_the_batch_follows_the_second_trace(tmp_path) -> None:
    # pairs of rows: (B, 5) -> (B / 2, 10); B is even in every run
    model = Fn(lambda m, x: x.reshape(x.shape[0] // 2, 10).sum(1))
    path = tmp_path / "m.onnx"
    cr.onnx.export(model, X(4, 5), path)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for b in (4, 8):
        x = X(b, 5)
        (got,) = sess.run(None, {"input": x.numpy()})
        with cr.no_grad():
            np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)
