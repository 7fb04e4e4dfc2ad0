"""fit / evaluate / predict / Trainer: convergence, modes, scheduler order, callbacks, resume,
and bad input (shape mismatch, unknown names, NaN loss, Ctrl-C)."""

from __future__ import annotations

import io
import math
import os
import signal

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import Digits
from chainrule.train import (
    L2,
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientMonitor,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
    Trainer,
    evaluate,
    fit,
    predict,
)


def mlp(hidden: int = 64, dropout: float = 0.0) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 10)
    )


@pytest.fixture(scope="module")
def digits():
    train, test = Digits(train=True), Digits(train=False)
    return train, test


def small_arrays(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    w = rng.normal(size=(8, 3))
    y = (x @ w).argmax(1)
    return x, y


def weights(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def test_fit_reaches_95_percent_on_digits(digits):
    train, test = digits
    cr.manual_seed(0)
    model = mlp()
    history = fit(
        model,
        train,
        loss=nn.CrossEntropyLoss(),
        optimizer=optim.Adam(model.parameters(), lr=3e-3),
        epochs=8,
        val_data=test,
        seed=0,
        progress=False,
    )
    assert len(history) == 8 and history.stop_reason is None
    assert history["val_accuracy"][-1] >= 0.95
    assert history["loss"][-1] < history["loss"][0]
    assert set(history.keys()) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                   "lr", "time"}  # fmt: skip
    assert evaluate(model, test, loss=nn.CrossEntropyLoss())["accuracy"] == pytest.approx(
        history["val_accuracy"][-1]
    )


class ModeRecorder(nn.Module):
    """Records (training flag, grad enabled) at every forward."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 3)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.calls.append((self.training, cr.is_grad_enabled()))
        return self.lin(x)


def test_train_eval_mode_and_no_grad_in_validation():
    x, y = small_arrays(64)
    model = ModeRecorder()
    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=2, batch_size=32, val_data=(x[:32], y[:32]), progress=False)  # fmt: skip
    # preflight of train and val data (eval, no grad), then per epoch: 2 training batches,
    # 1 validation batch
    assert model.calls == [(False, False)] * 2 + [(True, True)] * 2 + [(False, False)] + [
        (True, True)
    ] * 2 + [(False, False)]
    assert model.training  # left in train mode


def test_after_backward_hook_sees_gradients_before_the_step():
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    seen = []

    class Probe(Callback):
        def on_after_backward(self, state):
            seen.append(all(p.grad is not None for p in state.model.parameters()))
            self.before = model.weight.detach().numpy().copy()

        def on_batch_end(self, state):
            seen.append(not np.array_equal(self.before, model.weight.detach().numpy()))

    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=1, batch_size=32, callbacks=[Probe()], progress=False)  # fmt: skip
    assert seen == [True, True, True, True]


def test_data_forms_give_the_same_training(digits):
    x, y = small_arrays(96)
    results = []
    for data in [
        (x.astype(np.float64), y),  # float64 NumPy is converted to the model's float32
        (cr.tensor(x), cr.tensor(y)),
        TensorDataset(cr.tensor(x), cr.tensor(y)),
    ]:
        cr.manual_seed(1)
        model = nn.Linear(8, 3)
        fit(model, data, loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
            epochs=2, batch_size=16, seed=3, progress=False)  # fmt: skip
        results.append(model.weight.detach().numpy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    loader = DataLoader(TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=16)
    model = nn.Linear(8, 3)
    h = fit(model, loader, loss=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=1, progress=False)  # fmt: skip
    assert len(h) == 1


def test_scheduler_steps_per_epoch_and_plateau_gets_the_monitored_value():
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched,
            epochs=4, batch_size=32, progress=False)  # fmt: skip
    assert h["lr"] == [1.0, 0.5, 0.25, 0.125]  # lr in effect during each epoch

    class Constant(nn.Module):  # the loss never improves: the plateau scheduler must react
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(8, 3)

        def forward(self, x):
            return self.lin(x) * 0.0

    model = Constant()
    opt = optim.SGD(model.parameters(), lr=1.0)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, scheduler=plateau,
            epochs=4, batch_size=32, val_data=(x, y), progress=False)  # fmt: skip
    assert h["lr"] == [1.0, 1.0, 0.5, 0.25]
    assert plateau.best == pytest.approx(h["val_loss"][0])


def test_onecycle_steps_per_batch_like_torch(torch):
    x, y = small_arrays(100)
    model = nn.Linear(8, 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=4)
    lrs = LearningRateMonitor(logging_interval="step")
    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched, epochs=3,
        batch_size=25, callbacks=[lrs], progress=False)  # fmt: skip

    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.5, epochs=3, steps_per_epoch=4)
    expected = []
    for _ in range(12):
        expected.append(t_opt.param_groups[0]["lr"])
        t_opt.step()
        t_sched.step()
    np.testing.assert_allclose(lrs.lrs, expected, rtol=1e-12)


def test_shape_mismatch_raises_before_the_first_step():
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    before = weights(model)
    with pytest.raises(ValueError, match=r"output shape \(32, 3\).*target shape \(32,\)"):
        fit(model, (x, y.astype(np.float32)), loss=nn.MSELoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=1, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match=r"output shape \(32, 3\).*target shape \(32, 2\)"):
        fit(model, (x, np.zeros((64, 2), np.int64)), loss=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=1, progress=False)  # fmt: skip
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k])


def test_unknown_metric_and_monitor_list_valid_names():
    x, y = small_arrays(32)
    model = nn.Linear(8, 3)
    common = {"loss": nn.CrossEntropyLoss(), "optimizer": optim.SGD(model.parameters(), 0.1),
              "epochs": 1, "progress": False}  # fmt: skip
    with pytest.raises(ValueError, match="unknown metric 'acuracy'.*accuracy"):
        fit(model, (x, y), metrics=["acuracy"], **common)
    with pytest.raises(ValueError, match="unknown monitor 'val_loss'.*loss, accuracy"):
        fit(model, (x, y), callbacks=[EarlyStopping("val_loss")], **common)
    with pytest.raises(ValueError, match="unknown monitor 'val_acc'.*val_accuracy"):
        fit(model, (x, y), val_data=(x, y), callbacks=[EarlyStopping("val_acc")], **common)


def test_early_stopping_restores_best_weights_on_an_overfitting_run(digits):
    train, test = digits
    # 40 training images and a wide net with a large lr: validation loss turns up quickly.
    x_train, y_train = train.arrays()
    x_val, y_val = test.arrays()
    cr.manual_seed(0)
    model = mlp(hidden=256)
    snapshots = {}

    class Snap(Callback):
        def on_epoch_end(self, state):
            snapshots[state.epoch] = weights(state.model)

    stopper = EarlyStopping("val_loss", patience=3, restore_best_weights=True)
    h = fit(model, (x_train[:40], y_train[:40]), loss=nn.CrossEntropyLoss(),
            optimizer=optim.Adam(model.parameters(), lr=1e-2), epochs=60, batch_size=40,
            val_data=(x_val, y_val), callbacks=[Snap(), stopper], progress=False)  # fmt: skip
    best = int(np.argmin(h["val_loss"])) + 1
    assert h.stop_reason and h.stop_reason.startswith("early stopping")
    assert len(h) == best + 4 < 60  # stopped patience + 1 epochs after the best
    assert stopper.best_epoch == best
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, snapshots[best][k])
    val_now = evaluate(model, (x_val, y_val), loss=nn.CrossEntropyLoss())["loss"]
    assert val_now == pytest.approx(min(h["val_loss"]), rel=1e-5)


def _resume_setup():
    cr.manual_seed(5)
    model = mlp(hidden=32, dropout=0.3)  # dropout: the RNG stream must continue exactly
    opt = optim.Adam(model.parameters(), lr=2e-3)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched


def test_resume_from_checkpoint_equals_uninterrupted_run(digits, tmp_path):
    train, test = digits
    x, y = train.arrays()
    data = (x[:300], y[:300])
    kwargs = {"loss": nn.CrossEntropyLoss(), "batch_size": 32, "val_data": (x[300:400],
              y[300:400]), "seed": 11, "progress": False}  # fmt: skip

    model, opt, sched = _resume_setup()
    full = fit(model, data, optimizer=opt, scheduler=sched, epochs=4, **kwargs)
    expected = weights(model)

    path = tmp_path / "ck.safetensors"
    model, opt, sched = _resume_setup()
    fit(model, data, optimizer=opt, scheduler=sched, epochs=2,
        callbacks=[ModelCheckpoint(path)], **kwargs)  # fmt: skip
    cr.manual_seed(999)  # a fresh process would have some other RNG state
    model, opt, sched = _resume_setup()
    resumed = fit(model, data, optimizer=opt, scheduler=sched, epochs=4,
                  callbacks=[ModelCheckpoint(path)], resume=path, **kwargs)  # fmt: skip
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, expected[k], err_msg=k)
    assert len(resumed) == 4
    for key in ("loss", "val_loss", "accuracy", "lr"):
        assert resumed[key] == full[key]


def test_nan_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path):
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    ce = nn.CrossEntropyLoss()
    calls = {"n": 0}

    def exploding_loss(out, target):
        calls["n"] += 1
        value = ce(out, target)
        return value * float("nan") if calls["n"] > 5 else value  # preflight call is #1

    path = tmp_path / "ck.safetensors"
    h = fit(
        model,
        (x, y),
        loss=exploding_loss,
        optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=5,
        batch_size=32,
        callbacks=[ModelCheckpoint(path)],
        progress=False,
    )
    assert len(h) == 2  # epochs 1-2 completed; epoch 3's first batch was NaN
    assert "loss is nan at epoch 3, batch 0 (step 5)" in h.stop_reason
    assert "op 'mul'" in h.stop_reason  # found by anomaly detection
    assert all(np.isfinite(v).all() for v in weights(model).values())
    saved = cr.load_checkpoint(path, model=nn.Linear(8, 3), restore_rng=False)
    assert saved["epoch"] == 2


def test_ctrl_c_stops_after_the_batch_saves_and_keeps_history(tmp_path):
    x, y = small_arrays(128)
    model = nn.Linear(8, 3)

    class CtrlC(Callback):
        def on_batch_end(self, state):
            if state.epoch == 2 and state.batch == 1:
                os.kill(os.getpid(), signal.SIGINT)
                self.batch_when_sent = state.step

    path = tmp_path / "ck.safetensors"
    cb = CtrlC()
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=5, batch_size=32,
            callbacks=[cb, ModelCheckpoint(path, monitor="loss", save_best_only=True)],
            progress=False)  # fmt: skip
    assert len(h) == 1
    assert h.stop_reason == "interrupted (Ctrl-C) at epoch 2, batch 1"
    assert (tmp_path / "ck.interrupted.safetensors").exists()
    assert path.exists()  # the best checkpoint is still there
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_regularizer_penalises_weights_not_biases():
    reg = L2(0.5)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    names = [n for n, _ in reg.named_parameters(model)]
    assert names == ["0.weight", "2.weight"]
    expected = 0.5 * sum(
        float((p.detach().numpy() ** 2).sum()) for _, p in reg.named_parameters(model)
    )
    assert reg(model).item() == pytest.approx(expected, rel=1e-5)

    x, y = small_arrays(32)
    model = nn.Linear(8, 3)
    w0, b0 = model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()
    grads = {}

    class Grab(Callback):
        def on_after_backward(self, state):
            grads["w"] = model.weight.grad.numpy().copy()
            grads["b"] = model.bias.grad.numpy().copy()

    fit(
        model,
        (x, y),
        loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), 0.0),
        epochs=1,
        batch_size=32,
        regularizer=L2(0.1),
        callbacks=[Grab()],
        progress=False,
    )
    ref = nn.Linear(8, 3)
    ref.load_state_dict({"weight": cr.tensor(w0), "bias": cr.tensor(b0)})
    nn.CrossEntropyLoss()(ref(cr.tensor(x)), cr.tensor(y)).backward()
    np.testing.assert_allclose(grads["w"], ref.weight.grad.numpy() + 0.2 * w0, rtol=1e-5)
    np.testing.assert_allclose(grads["b"], ref.bias.grad.numpy(), rtol=1e-5)


def test_clip_grad_norm_limits_the_step():
    x, y = small_arrays(32)
    model = nn.Linear(8, 3)
    w0 = model.weight.detach().numpy().copy()
    b0 = model.bias.detach().numpy().copy()
    fit(model, (x * 100, y), loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=1.0), epochs=1, batch_size=32,
        clip_grad_norm=0.01, progress=False)  # fmt: skip
    step = np.sqrt(
        ((model.weight.detach().numpy() - w0) ** 2).sum()
        + ((model.bias.detach().numpy() - b0) ** 2).sum()
    )
    assert step == pytest.approx(0.01, rel=1e-4)


def test_callbacks_csv_lr_gradient_monitor(tmp_path):
    x, y = small_arrays(64)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    lrs, grads = LearningRateMonitor(), GradientMonitor(every_n_steps=1)
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=2, batch_size=32,
            callbacks=[CSVLogger(tmp_path / "log.csv"), lrs, grads], progress=False)  # fmt: skip
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,accuracy,lr,time") and len(lines) == 3
    assert lrs.lrs == [0.1, 0.1]
    assert len(grads.records) == 4 and set(grads.records[0]["norms"]) == {
        "0.weight", "0.bias", "2.weight", "2.bias"}  # fmt: skip
    assert h["grad_norm"][0] > 0
    assert len(grads.reports) == 2


def test_progress_lines_when_not_a_tty_and_silence_when_off(capsys):
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    stream = io.StringIO()
    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=2, callbacks=[ProgressBar(file=stream)])  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ")
    assert "\r" not in stream.getvalue()
    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=1, progress=False)  # fmt: skip
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_tty():
    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    stream = FakeTTY()
    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=1, callbacks=[ProgressBar(file=stream)])  # fmt: skip
    text = stream.getvalue()
    assert "epoch 1/1" in text and "batch" in text and "2/2" in text


def test_trainer_fit_evaluate_predict(digits):
    train, test = digits
    cr.manual_seed(0)
    model = mlp()
    trainer = Trainer(
        model,
        loss=nn.CrossEntropyLoss(),
        optimizer=optim.Adam(model.parameters(), lr=3e-3),
        progress=False,
    )
    history = trainer.fit(train, epochs=2, val_data=test)
    assert trainer.history is history and len(history) == 2
    scores = trainer.evaluate(test)
    assert set(scores) == {"loss", "accuracy"} and scores["accuracy"] > 0.8
    x_test, y_test = test.arrays()
    out = trainer.predict(x_test)
    assert out.shape == (len(test), 10)
    assert float((out.numpy().argmax(1) == y_test).mean()) == pytest.approx(scores["accuracy"])
    assert predict(model, test).shape == (len(test), 10)


def test_regression_defaults_to_mae():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    model = nn.Linear(3, 1)
    h = fit(model, (x, y), loss=nn.MSELoss(), optimizer=optim.SGD(model.parameters(), 0.1),
            epochs=20, batch_size=16, progress=False)  # fmt: skip
    assert "mae" in h and h["mae"][-1] < 0.05
    assert math.isfinite(h["loss"][-1])


def test_trainer_report_writes_html(tmp_path, digits):
    train, test = digits
    model = mlp()
    trainer = Trainer(model, loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters()),
                      callbacks=[GradientMonitor(every_n_steps=5)], progress=False,
                      report=str(tmp_path / "report.html"))  # fmt: skip
    trainer.fit(train, epochs=1, val_data=test)
    html = (tmp_path / "report.html").read_text()
    assert "Gradient health" in html and "Confusion matrix" in html


def test_l1_regularizer_gradient_is_alpha_sign_w():
    model = nn.Linear(3, 2)
    from chainrule.train import L1

    penalty = L1(0.1)(model)
    penalty.backward()
    w = model.weight.detach().numpy()
    np.testing.assert_allclose(model.weight.grad.numpy(), 0.1 * np.sign(w), rtol=1e-6)
    assert model.bias.grad is None
    assert penalty.item() == pytest.approx(0.1 * np.abs(w).sum(), rel=1e-5)


def test_model_returning_a_tuple_is_named():
    class TupleOut(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(8, 3)

        def forward(self, x):
            return self.lin(x), None

    x, y = small_arrays(32)
    model = TupleOut()
    with pytest.raises(TypeError, match="must return a Tensor, got tuple"):
        fit(model, (x, y), loss=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=1, progress=False)  # fmt: skip


def test_more_metrics_and_evaluate_with_metric_objects():
    from chainrule.train.metrics import Accuracy

    x, y = small_arrays(96)
    model = nn.Linear(8, 3)
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.5),
            epochs=3, batch_size=32, val_data=(x, y), progress=False,
            metrics=["accuracy", "top2_accuracy", "f1", Accuracy()])  # fmt: skip
    assert {"top2_accuracy", "f1", "val_f1", "val_top2_accuracy"} <= set(h.keys())
    assert all(a <= b for a, b in zip(h["accuracy"], h["top2_accuracy"]))
    scores = evaluate(model, (x, y), metrics=[Accuracy(), "perplexity"])
    assert set(scores) == {"accuracy", "perplexity"}  # no loss given: no loss reported
    assert scores["accuracy"] == pytest.approx(h["val_accuracy"][-1])


def test_epochs_zero_and_empty_data():
    x, y = small_arrays(32)
    model = nn.Linear(8, 3)
    opt = optim.SGD(model.parameters(), 0.1)
    assert len(fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=0,
                   progress=False)) == 0  # fmt: skip
    with pytest.raises(ValueError, match="empty"):
        fit(model, (x[:0], y[:0]), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1,
            progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=-1)


def test_trainer_fit_twice_starts_early_stopping_afresh():
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)
    stopper = EarlyStopping("loss", patience=0)
    trainer = Trainer(model, loss=nn.CrossEntropyLoss(),
                      optimizer=optim.SGD(model.parameters(), 0.1), callbacks=[stopper],
                      progress=False)  # fmt: skip
    trainer.fit((x, y), epochs=3)
    first_best = stopper.best
    trainer.fit((x, y), epochs=3)
    assert stopper.best_epoch >= 1 and stopper.best <= first_best
    assert len(trainer.history) >= 1


def test_detect_anomaly_names_the_op():
    class LogOfNegative(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(8, 3)

        def forward(self, x):
            return self.lin(x) + (x[:, :1] * 0 - 1).log()  # log(-1) = nan

    x, y = small_arrays(32)
    model = LogOfNegative()
    before = weights(model)
    # A NaN found by detect_anomaly stops fit cleanly, as a NaN loss does (docs of fit):
    # no exception, weights of the previous step, the op and the user's line in stop_reason.
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(),
            optimizer=optim.SGD(model.parameters(), 0.1), epochs=1, detect_anomaly=True,
            progress=False)  # fmt: skip
    assert len(h) == 0
    assert h.stop_reason.startswith("non-finite value (nan/inf) at epoch 1, batch 0 (step 1)")
    assert "op 'log'" in h.stop_reason and "test_fit.py" in h.stop_reason
    assert h.partial["batches"] == 0 and h.partial["partial"] is True
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k])
    assert not cr.autograd.is_anomaly_enabled()
