"""Whole models exported to ONNX: an MLP, a CNN, recurrent nets, attention, a transformer layer."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _roundtrip import roundtrip  # noqa: E402


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(8, 16),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(16, 16),
            nn.Tanh(),
            nn.Linear(16, 3),
        )

    def forward(self, x):
        return F.log_softmax(self.net(x), dim=1)


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * 2 * 2 + 8, 10)

    def forward(self, x):
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = F.relu(self.conv2(h))
        flat = h.view(h.size(0), -1)
        pooled = self.gap(h).flatten(1)
        return self.fc(cr.cat([flat, pooled], dim=1))


class Recurrent(nn.Module):
    """An embedding, a recurrent layer, and a head on the last step and the final state."""

    def __init__(self, kind: str, batch_first: bool, **kw) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.emb = nn.Embedding(20, 6)
        self.rnn = getattr(nn, kind)(6, 5, batch_first=batch_first, **kw)
        dirs = 2 if kw.get("bidirectional") else 1
        self.head = nn.Linear(5 * dirs, 3)

    def forward(self, tokens):
        x = self.emb(tokens)
        out, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        last = out[:, -1] if self.batch_first else out[-1]
        return self.head(last), h


def _tokens(b: int, t: int) -> cr.Tensor:
    return cr.tensor(np.random.default_rng(0).integers(0, 20, size=(b, t)))


def test_mlp(tmp_path) -> None:
    roundtrip(MLP(), cr.randn(4, 8), tmp_path, batches=(1, 7))


def test_cnn(tmp_path) -> None:
    model = CNN()
    model.train()
    for _ in range(2):
        model(cr.randn(6, 1, 12, 12))
    roundtrip(model, cr.randn(2, 1, 12, 12), tmp_path, batches=(5,))


@pytest.mark.parametrize("batch_first", [True, False])
def test_lstm_two_layer_bidirectional(batch_first: bool, tmp_path) -> None:
    model = Recurrent("LSTM", batch_first, num_layers=2, bidirectional=True, dropout=0.3)
    x = _tokens(3, 7) if batch_first else _tokens(7, 3)
    # the batch is axis 0 of the tokens when batch_first, else axis 1
    axis = 0 if batch_first else 1
    dyn = {"input": {axis: "batch"}}
    roundtrip(model, x, tmp_path, batch_axis=axis, dynamic_axes=dyn, batches=(5,))


def test_lstm_variable_sequence_length(tmp_path) -> None:
    model = Recurrent("LSTM", True, num_layers=1)
    roundtrip(
        model,
        _tokens(2, 6),
        tmp_path,
        batch_axis=1,
        batches=(3, 9),
        dynamic_axes={"input": {0: "batch", 1: "time"}},
    )


@pytest.mark.parametrize("kind", ["GRU", "RNN"])
def test_gru_rnn(kind: str, tmp_path) -> None:
    model = Recurrent(kind, True, num_layers=2, bidirectional=True)
    roundtrip(model, _tokens(3, 5), tmp_path, batches=(6,))


def test_rnn_relu_single_layer_no_bias(tmp_path) -> None:
    model = Recurrent("RNN", False, nonlinearity="relu", bias=False)
    roundtrip(
        model,
        _tokens(4, 2),
        tmp_path,
        batch_axis=1,
        batches=(5,),
        dynamic_axes={"input": {1: "batch"}},
    )


def test_lstm_with_initial_state(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 3, batch_first=True)

        def forward(self, x, h, c):
            out, (hn, cn) = self.lstm(x, (h, c))
            return out, hn, cn

    x, h, c = cr.randn(2, 5, 4), cr.randn(1, 2, 3), cr.randn(1, 2, 3)
    roundtrip(
        M(),
        (x, h, c),
        tmp_path,
        batches=(),
        dynamic_axes={"input_0": {0: "batch"}, "input_1": {1: "batch"}, "input_2": {1: "batch"}},
    )


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells(kind: str, tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = getattr(nn, kind)(4, 3)

        def forward(self, x):
            h = None
            for t in range(x.shape[1]):
                h = self.cell(x[:, t], h)
            return h[0] if isinstance(h, tuple) else h

    roundtrip(M(), cr.randn(2, 3, 4), tmp_path, batches=(5,))


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention(batch_first: bool, tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)

        def forward(self, x):
            out, w = self.mha(x, x, x)
            return out, w

    axis = 0 if batch_first else 1
    x = cr.randn(3, 5, 8) if batch_first else cr.randn(5, 3, 8)
    roundtrip(
        M(), x, tmp_path, batch_axis=axis, batches=(4,), dynamic_axes={"input": {axis: "batch"}}
    )


def test_multihead_attention_causal_mask(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 4, batch_first=True)

        def forward(self, x):
            t = x.shape[1]
            mask = cr.triu(cr.ones(t, t, dtype=cr.bool), diagonal=1)
            return self.mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    roundtrip(M(), cr.randn(2, 5, 8), tmp_path, batches=(3,))


def test_transformer_encoder_layer(tmp_path) -> None:
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    roundtrip(layer, cr.randn(2, 5, 8), tmp_path, batches=(4,))


def test_transformer_encoder_layer_norm_first_gelu(tmp_path) -> None:
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True)
    roundtrip(
        layer,
        cr.randn(5, 2, 8),
        tmp_path,
        batch_axis=1,
        batches=(3,),
        dynamic_axes={"input": {1: "batch"}},
    )


def test_bilinear_two_inputs(tmp_path) -> None:
    roundtrip(nn.Bilinear(3, 4, 2), (cr.randn(2, 3), cr.randn(2, 4)), tmp_path)


def test_transformer_encoder_stack_with_padding_mask(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, num_layers=2)

        def forward(self, x, pad):
            return self.enc(x, src_key_padding_mask=pad)

    pad = cr.tensor(np.array([[False, False, False, True, True], [False] * 5]))
    roundtrip(M(), (cr.randn(2, 5, 8), pad), tmp_path, batches=())


def test_transformer_decoder_layer(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = nn.TransformerDecoderLayer(8, 2, 16, batch_first=True)

        def forward(self, tgt, memory):
            t = tgt.shape[1]
            causal = cr.triu(cr.full((t, t), float("-inf")), diagonal=1)
            return self.dec(tgt, memory, tgt_mask=causal)

    roundtrip(M(), (cr.randn(2, 4, 8), cr.randn(2, 6, 8)), tmp_path, batches=(3,))


def test_cnn_dynamic_spatial_size(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.gn = nn.GroupNorm(2, 4)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            h = F.relu(self.gn(self.conv(x)))
            return self.fc(self.gap(h).view(h.size(0), -1)), h.flatten(2).mean(-1)

    model = M()
    x = cr.randn(2, 3, 6, 5)
    dyn = {"input": {0: "batch", 2: "height", 3: "width"}}
    roundtrip(model, x, tmp_path, dynamic_axes=dyn)
    # other spatial sizes run too
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    x2 = cr.randn(3, 3, 9, 4)
    got = sess.run(None, {"input": x2.numpy()})
    with cr.no_grad():
        want = model(x2)
    for g_, w_ in zip(got, want):
        np.testing.assert_allclose(g_, w_.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [(2, 2), (3, 2)])
def test_adaptive_max_pool(size, tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.AdaptiveMaxPool2d(size, return_indices=True)

        def forward(self, x):
            v, i = self.pool(x)
            return v, i

    roundtrip(M(), cr.randn(2, 3, 6, 4), tmp_path)


def test_max_pool_indices(tmp_path) -> None:
    roundtrip(nn.MaxPool2d(2, return_indices=True), cr.randn(2, 3, 6, 4), tmp_path)


@pytest.mark.parametrize(
    "loss",
    [
        lambda: nn.CrossEntropyLoss(),
        lambda: nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=1),
        lambda: nn.CrossEntropyLoss(weight=cr.rand(4) + 0.5, reduction="sum"),
        lambda: nn.NLLLoss(reduction="none"),
    ],
)
def test_classification_loss(loss, tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 4)
            self.loss = loss()

        def forward(self, x, t):
            z = self.fc(x)
            if isinstance(self.loss, nn.NLLLoss):
                z = F.log_softmax(z, 1)
            return self.loss(z, t)

    t = cr.tensor(np.array([0, 3, 1, 2]))
    roundtrip(M(), (cr.randn(4, 5), t), tmp_path)


@pytest.mark.parametrize(
    "loss",
    ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss", "KLDivLoss"],
)
def test_regression_losses(loss, tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 3)
            kw = {"reduction": "batchmean"} if loss == "KLDivLoss" else {}
            self.loss = getattr(nn, loss)(**kw)

        def forward(self, x, t):
            z = self.fc(x)
            if loss == "BCELoss":
                return self.loss(z.sigmoid(), t.sigmoid())
            if loss == "KLDivLoss":
                return self.loss(F.log_softmax(z, 1), F.softmax(t, 1))
            return self.loss(z, t)

    roundtrip(M(), (cr.randn(4, 5), cr.randn(4, 3)), tmp_path)


def test_multihead_attention_variants(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, kdim=6, vdim=4, batch_first=True)

        def forward(self, q, k, v, pad):
            out, w = self.mha(q, k, v, key_padding_mask=pad, average_attn_weights=False)
            return out, w

    pad = cr.tensor(np.array([[False, False, True], [False, False, False]]))
    args = (cr.randn(2, 5, 8), cr.randn(2, 3, 6), cr.randn(2, 3, 4), pad)
    roundtrip(M(), args, tmp_path, batches=(3,))


def test_full_transformer(tmp_path) -> None:
    model = nn.Transformer(
        d_model=8,
        nhead=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=16,
        batch_first=True,
    )
    roundtrip(model, (cr.randn(2, 5, 8), cr.randn(2, 4, 8)), tmp_path, batches=(3,))


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "gru", "transformer", "mha_seq_first"])
def test_traced_at_batch_one_runs_at_other_batches(name: str, tmp_path) -> None:
    if name == "mlp":
        model, x, axis = MLP(), cr.randn(1, 8), 0
    elif name == "cnn":
        model, x, axis = CNN(), cr.randn(1, 1, 12, 12), 0
    elif name in ("lstm", "gru"):
        kind = name.upper()
        model, x, axis = Recurrent(kind, True, num_layers=2, bidirectional=True), _tokens(1, 4), 0
    elif name == "transformer":
        model = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        x, axis = cr.randn(1, 5, 8), 0
    else:
        model = nn.TransformerEncoderLayer(8, 2, 16)
        x, axis = cr.randn(5, 1, 8), 1
    roundtrip(
        model, x, tmp_path, batch_axis=axis, batches=(2, 4), dynamic_axes={"input": {axis: "batch"}}
    )


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_zero_initial_state_input_stays_an_input(kind: str, tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(4, 3, batch_first=True)

        def forward(self, x, h):
            state = (h, h * 0.5) if kind == "LSTM" else h
            return self.rnn(x, state)[0]

    # the example's state is all zeros; the graph must still read the state input
    model = M()
    x, h = cr.randn(2, 5, 4), cr.zeros(1, 2, 3)
    cr.onnx.export(
        model,
        (x, h),
        tmp_path / "m.onnx",
        dynamic_axes={"input_0": {0: "batch"}, "input_1": {1: "batch"}},
    )
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    h2 = cr.randn(1, 2, 3)
    (got,) = sess.run(None, {"input_0": x.numpy(), "input_1": h2.numpy()})
    with cr.no_grad():
        want = model(x, h2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_sizes_read_from_the_input_stay_dynamic(tmp_path) -> None:
    """zeros(x.size(0), …), new_ones, and a cls token expanded to the batch (ViT)."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = nn.Parameter(cr.randn(1, 1, 4))
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            b = x.shape[0]
            h = cr.zeros(b, 4) + x.new_ones(b, 1) * 0.5
            tokens = cr.cat([self.cls.expand(b, -1, -1), x], dim=1)  # (B, T + 1, 4)
            return self.fc(tokens).sum(1) + h

    roundtrip(M(), cr.randn(2, 3, 4), tmp_path, batches=(1, 5))


def test_manual_rnn_loop_with_preallocated_output(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.GRUCell(4, 3)

        def forward(self, x):
            b, t, _ = x.shape
            h = cr.zeros(b, 3)
            out = cr.zeros(b, t, 3)
            for k in range(t):
                h = self.cell(x[:, k], h)
                out[:, k] = h
            return out

    roundtrip(M(), cr.randn(2, 4, 4), tmp_path, batches=(3,))


def test_positions_from_arange_follow_a_dynamic_sequence_length(tmp_path) -> None:
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(20, 8)
            self.pos = nn.Embedding(32, 8)
            self.enc = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)

        def forward(self, ids):
            positions = cr.arange(ids.shape[1])
            return self.enc(self.tok(ids) + self.pos(positions))

    model = M()
    dyn = {"input": {0: "batch", 1: "time"}}
    roundtrip(model, _tokens(2, 5), tmp_path, dynamic_axes=dyn)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = _tokens(3, 9)
    (got,) = sess.run(None, {"input": ids.numpy()})
    with cr.no_grad():
        np.testing.assert_allclose(got, model(ids).numpy(), rtol=1e-4, atol=1e-5)


def test_export_after_training_steps(tmp_path) -> None:
    """Optimizers may keep parameters as views of one flat buffer; the export sees the trained
    values under the state_dict names."""
    model = MLP()
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    x, y = cr.randn(16, 8), cr.tensor(np.random.default_rng(0).integers(0, 3, 16))
    for _ in range(3):
        opt.zero_grad()
        F.nll_loss(model(x), y).backward()
        opt.step()
    proto = roundtrip(model, x[:4], tmp_path, batches=(7,))
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(inits[k], v.numpy())
