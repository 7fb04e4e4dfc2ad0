"""Regression tests from the external review of chainrule.train (bad input, silent failures)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import TensorDataset
from chainrule.train import fit, predict

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)


def _fit(model, data, **kw):
    kw.setdefault("loss", nn.CrossEntropyLoss())
    kw.setdefault("epochs", 2)
    opt = kw.pop("optimizer", None) or cr.optim.SGD(model.parameters(), lr=0.1)
    return fit(model, data, optimizer=opt, progress=False, **kw)


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_one_shot_generator_is_rejected_before_training():
    # It used to lose its first batch to the shape check and record NaN for epoch 2.
    def batches():
        for i in range(0, 32, 8):
            yield cr.tensor(X[i : i + 8]), cr.tensor(Y[i : i + 8])

    model = nn.Linear(4, 2)
    before = _weights(model)
    with pytest.raises(TypeError, match="one-shot iterator"):
        _fit(model, batches())
    with pytest.raises(TypeError, match="val_data is a one-shot"):
        _fit(model, (X, Y), val_data=batches())
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())


def test_metric_failure_is_raised_before_the_first_step():
    class BadMetric(cr.train.metrics.Metric):
        name = "bad"

        def reset(self):
            pass

        def update(self, output, target):
            raise ValueError("bad metric: cannot read this output")

        def compute(self):
            return 0.0

    model = nn.Linear(4, 2)
    before = _weights(model)
    with pytest.raises(ValueError, match="bad metric"):
        _fit(model, (X, Y), metrics=[BadMetric()])
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())


def test_bce_accuracy_with_integer_targets_of_the_output_shape():
    # (N, 1) logits with (N, 1) integer 0/1 targets: binary accuracy, not a shape error.
    hist = _fit(nn.Linear(4, 1), (X, Y[:, None]), loss=nn.BCEWithLogitsLoss(), epochs=1)
    assert 0.0 <= hist["accuracy"][0] <= 1.0
    assert (
        cr.train.metrics.accuracy(np.array([[2.0], [-1.0]]), np.array([[1], [1]]), threshold=0)
        == 0.5
    )


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"clip_grad_norm": -1.0}, "clip_grad_norm"),
        ({"clip_grad_norm": 0.0}, "clip_grad_norm"),
        ({"scheduler_interval": "step"}, "scheduler_interval"),
        ({"epochs": 1.5}, "epochs"),
    ],
)
def test_bad_options_raise_valueerror(kw, match):
    with pytest.raises(ValueError, match=match):
        _fit(nn.Linear(4, 2), (X, Y), **kw)


def test_dict_data_names_the_problem():
    with pytest.raises(TypeError, match="dict with keys"):
        _fit(nn.Linear(4, 2), {"x": X, "y": Y})


def test_predict_on_a_dataset_of_inputs_only():
    model = nn.Linear(4, 3)
    out = predict(model, TensorDataset(cr.tensor(X)), batch_size=10)
    assert out.shape == (32, 3)
    np.testing.assert_allclose(out.numpy(), model(cr.tensor(X)).detach().numpy(), rtol=1e-6)


def test_fit_on_a_torch_dataloader():
    torch = pytest.importorskip("torch")
    data = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    hist = _fit(nn.Linear(4, 2), loader, epochs=1)
    assert len(hist) == 1 and np.isfinite(hist["loss"][0])


def test_checkpoint_path_template_typo_fails_before_training(tmp_path):
    model = nn.Linear(4, 2)
    before = _weights(model)
    bad = cr.train.callbacks.ModelCheckpoint(str(tmp_path / "ck-{val_los:.3f}.st"))
    with pytest.raises(ValueError, match="cannot fill in the path"):
        _fit(model, (X, Y), val_data=(X, Y), callbacks=[bad])
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    good = cr.train.callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{val_loss:.3f}.st"))
    _fit(nn.Linear(4, 2), (X, Y), val_data=(X, Y), callbacks=[good], epochs=1)
    assert len(list(tmp_path.glob("ck-01-*.st"))) == 1


def test_bad_val_data_fails_before_the_first_step():
    model = nn.Linear(4, 2)
    before = _weights(model)
    with pytest.raises(RuntimeError, match="val_data.*features"):
        _fit(model, (X, Y), val_data=(X[:, :3], Y))
    with pytest.raises(ValueError, match="val_data"):
        _fit(model, (X, Y), val_data=(X, Y + 5))
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())


def test_a_bad_label_after_the_first_batch_fails_before_training():
    model = nn.Linear(4, 2)
    before = _weights(model)
    labels = Y.copy()
    labels[30] = 7
    with pytest.raises(ValueError, match=r"target 7 at index \(30,\)"):
        _fit(model, (X, labels), batch_size=8, shuffle=False)
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    labels[30] = -100  # ignore_index is a valid target
    _fit(model, (X, labels), batch_size=8, epochs=1)


def test_history_plot_with_unknown_metric_names_the_columns():
    pytest.importorskip("matplotlib")
    hist = cr.train.History([{"epoch": 1, "loss": 0.5, "accuracy": 0.9}])
    with pytest.raises(ValueError, match="none of metrics=.*columns: epoch, loss, accuracy"):
        hist.plot(metrics=["acc"])


def test_single_metric_string_and_single_callback_are_accepted():
    stopper = cr.train.callbacks.EarlyStopping("loss", patience=5)
    hist = _fit(nn.Linear(4, 2), (X, Y), metrics="accuracy", callbacks=stopper, epochs=1)
    assert "accuracy" in hist and "a" not in hist
    scores = cr.train.evaluate(nn.Linear(4, 2), (X, Y), metrics="accuracy")
    assert set(scores) == {"accuracy"}


def test_a_tuple_of_three_arrays_says_how_to_pass_several_inputs():
    with pytest.raises(TypeError, match="TensorDataset"):
        _fit(nn.Linear(4, 2), (X, X, Y))


def test_predict_on_a_torch_dataloader_of_inputs_only():
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X)), 10)
    model = nn.Linear(4, 3)
    out = predict(model, loader)
    np.testing.assert_allclose(out.numpy(), model(cr.tensor(X)).detach().numpy(), rtol=1e-6)
