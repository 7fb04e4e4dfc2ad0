"""RNN / LSTM / GRU (multi-layer, bidirectional, batch_first, projections) and their cells:
torch parity with the same state_dict (outputs, states, input/state/parameter gradients;
f32/f64), float64 gradcheck, keys/repr/init, dropout between layers, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _layer_parity import compare_layer, gradcheck_layer

import chainrule as cr
import chainrule.nn as nn

# torch's own notice that its oneDNN path lacks projections; not about chainrule.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

CONFIGS = [
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTM", {"num_layers": 2, "proj_size": 3, "bidirectional": True}),
    ("LSTM", {"bias": False, "batch_first": True}),
    ("GRU", {}),
    ("GRU", {"num_layers": 3, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False, "num_layers": 2}),
    ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("RNN", {"nonlinearity": "relu", "batch_first": True, "num_layers": 2}),
]


def _states(cls, kw, batch, unbatched=False):
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    p = kw.get("proj_size", 0) or 5
    rng = np.random.default_rng(11)
    shape_h = (d * layers, p) if unbatched else (d * layers, batch, p)
    shape_c = (d * layers, 5) if unbatched else (d * layers, batch, 5)
    if cls == "LSTM":
        return [rng.standard_normal(shape_h), rng.standard_normal(shape_c)]
    return [rng.standard_normal(shape_h)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("cls", "kw"), CONFIGS)
def test_parity_default_state(torch, cls, kw, dtype):
    x = np.random.default_rng(0).standard_normal((3, 6, 4))
    compare_layer(torch, lambda m: getattr(m, cls)(4, 5, **kw), [x], dtype)


@pytest.mark.parametrize(("cls", "kw"), CONFIGS)
def test_parity_given_state(torch, cls, kw):
    x = np.random.default_rng(1).standard_normal((3, 6, 4))
    batch = 3 if kw.get("batch_first") else 6
    states = _states(cls, kw, batch)
    if cls == "LSTM":
        call = lambda m, x, h, c: m(x, (h, c))  # noqa: E731
    else:
        call = None
    compare_layer(torch, lambda m: getattr(m, cls)(4, 5, **kw), [x, *states], call=call)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_unbatched(torch, cls):
    kw = {"num_layers": 2, "bidirectional": True}
    x = np.random.default_rng(2).standard_normal((5, 4))
    compare_layer(torch, lambda m: getattr(m, cls)(4, 5, **kw), [x])
    states = _states(cls, kw, None, unbatched=True)
    call = (lambda m, x, h, c: m(x, (h, c))) if cls == "LSTM" else None
    compare_layer(torch, lambda m: getattr(m, cls)(4, 5, **kw), [x, *states], call=call)


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        ("LSTM", {"num_layers": 2, "bidirectional": True}),
        ("GRU", {"batch_first": True}),
        ("RNN", {"nonlinearity": "relu"}),
        ("LSTM", {"proj_size": 2}),
    ],
)
def test_gradcheck(cls, kw):
    x = np.random.default_rng(3).standard_normal((3, 2, 3))
    gradcheck_layer(lambda m: getattr(m, cls)(3, 4, **kw), [x])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells(torch, cls, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    h = rng.standard_normal((3, 5))
    compare_layer(torch, lambda m: getattr(m, cls)(4, 5), [x], dtype)
    if cls == "LSTMCell":
        c = rng.standard_normal((3, 5))
        compare_layer(
            torch, lambda m: m.LSTMCell(4, 5), [x, h, c], call=lambda m, x, h, c: m(x, (h, c))
        )
        compare_layer(
            torch,
            lambda m: m.LSTMCell(4, 5, bias=False),
            [x[0], h[0], c[0]],
            call=lambda m, x, h, c: m(x, (h, c)),
        )
    else:
        compare_layer(torch, lambda m: getattr(m, cls)(4, 5), [x, h], dtype)
        compare_layer(torch, lambda m: getattr(m, cls)(4, 5, bias=False), [x[0], h[0]])
    gradcheck_layer(lambda m: getattr(m, cls)(4, 3), [x])


def test_rnncell_relu(torch):
    x = np.random.default_rng(5).standard_normal((3, 4))
    compare_layer(torch, lambda m: m.RNNCell(4, 5, nonlinearity="relu"), [x])


def test_keys_shapes_repr(torch):
    for make in [
        lambda m: m.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5),
        lambda m: m.GRU(3, 4, 3, batch_first=True, bias=False),
        lambda m: m.RNN(3, 4, 2, "relu", dropout=0.5),
        lambda m: m.LSTMCell(3, 4),
        lambda m: m.RNNCell(3, 4, nonlinearity="relu"),
    ]:
        t, c = make(torch.nn), make(nn)
        assert repr(c) == repr(t)
        assert [(k, tuple(v.shape)) for k, v in c.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in t.state_dict().items()
        ]


def test_init_distribution_and_misc():
    cr.manual_seed(0)
    m = nn.LSTM(64, 256)
    bound = 1 / np.sqrt(256)
    for p in m.parameters():
        a = p.detach().numpy()
        assert a.dtype == np.float32 and np.abs(a).max() <= bound
    w = m.weight_hh_l0.detach().numpy()
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    m.flatten_parameters()
    assert len(m.all_weights) == 1 and len(m.all_weights[0]) == 4


def test_dropout_between_layers():
    cr.manual_seed(0)
    m = nn.LSTM(4, 5, num_layers=2, dropout=0.5)
    x = cr.randn(3, 2, 4)
    m.eval()
    a = m(x)[0].detach().numpy()
    b = m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    c = m(x)[0].detach().numpy()
    assert not np.allclose(a, c)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.3)


def test_bad_input():
    m = nn.LSTM(4, 5, num_layers=2)
    with pytest.raises(RuntimeError, match="Expected 4, got 3"):
        m(cr.randn(3, 2, 3))
    with pytest.raises(
        RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 5\), got \[1, 2, 5\]"
    ):
        m(cr.randn(3, 2, 4), (cr.randn(1, 2, 5), cr.randn(2, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 5\), got \[1, 3, 5\]"):
        nn.GRU(4, 5)(cr.randn(3, 2, 4), cr.randn(1, 3, 5))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        nn.RNN(4, 5)(cr.randn(4))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size"):
        nn.GRUCell(4, 5)(cr.randn(2, 3))
    with pytest.raises(RuntimeError, match="hidden_size"):
        nn.LSTMCell(4, 5)(cr.randn(2, 4), (cr.randn(2, 4), cr.randn(2, 5)))
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(4, 5, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(4, 0)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(4, 5, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size has to be smaller"):
        nn.LSTM(4, 5, proj_size=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(4, 5, num_layers=2, dropout=0.2)  # no warning with more than one layer
