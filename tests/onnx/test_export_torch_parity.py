"""The exported graph reproduces the PyTorch model whose weights the chainrule model loaded."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _load_from_torch(model: cr.nn.Module, tmodel) -> None:
    state = {k: cr.tensor(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}
    model.load_state_dict(state)


def _build(ns):
    class Net(ns.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = ns.nn.Conv2d(1, 4, 3, padding=1)
            self.bn = ns.nn.BatchNorm2d(4)
            self.pool = ns.nn.MaxPool2d(2)
            self.lstm = ns.nn.LSTM(4 * 3, 6, batch_first=True, bidirectional=True)
            self.head = ns.nn.Linear(12, 5)

        def forward(self, x):
            h = self.pool(ns.relu(self.bn(self.conv(x))))  # (B, 4, 3, 3)
            seq = h.permute(0, 3, 1, 2).flatten(2)  # (B, 3, 12): width as time
            out, _ = self.lstm(seq)
            return ns.log_softmax(self.head(out[:, -1]), dim=-1)

    return Net()


def test_cnn_lstm_matches_torch(tmp_path) -> None:
    torch.manual_seed(0)
    tmodel = _build(torch).eval()
    with torch.no_grad():
        tmodel.bn.running_mean.uniform_(-0.5, 0.5)
        tmodel.bn.running_var.uniform_(0.5, 1.5)
    model = _build(cr)
    _load_from_torch(model, tmodel)
    cr.onnx.export(model, cr.randn(2, 1, 6, 6), tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for b in (2, 5):
        x = np.random.default_rng(b).standard_normal((b, 1, 6, 6)).astype(np.float32)
        (got,) = sess.run(None, {"input": x})
        with torch.no_grad():
            want = tmodel(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
