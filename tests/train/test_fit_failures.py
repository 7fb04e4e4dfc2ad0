"""fit when training does not finish: exceptions and Ctrl-C mid-epoch keep the History (completed
epochs + the partial one), detect_anomaly stops cleanly like a NaN loss, and a DataLoader's own
shuffling generator is checkpointed so resuming is bit-identical."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.autograd import engine
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Callback, GradientMonitor, ModelCheckpoint, Trainer, fit


def small_arrays(n: int = 128, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (x @ rng.normal(size=(8, 3))).argmax(1)
    return x, y


def _fit_sgd(model, data, **kwargs):
    """``fit`` with the loss and optimizer every test here uses."""
    return fit(
        model,
        data,
        loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), 0.1),
        **kwargs,
    )


def weights(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


class FailAt(Callback):
    """Raise in on_batch_end at (epoch, batch)."""

    def __init__(self, epoch: int, batch: int, exc: Exception) -> None:
        self.at, self.exc = (epoch, batch), exc

    def on_batch_end(self, state):
        if (state.epoch, state.batch) == self.at:
            raise self.exc


def test_exception_mid_epoch_keeps_history_partial_and_a_checkpoint(tmp_path):
    x, y = small_arrays()
    cr.manual_seed(0)
    model = nn.Linear(8, 3)
    monitor = GradientMonitor(every_n_steps=1)
    path = tmp_path / "ck.safetensors"
    with pytest.raises(OSError, match="disk went away") as info:
        _fit_sgd(
            model,
            (x, y),
            epochs=5,
            batch_size=32,
            progress=False,
            callbacks=[ModelCheckpoint(path), monitor, FailAt(3, 1, OSError("disk went away"))],
        )
    h = info.value.history
    assert [r["epoch"] for r in h.records] == [1, 2]
    assert h.partial["epoch"] == 3 and h.partial["partial"] is True
    assert h.partial["batches"] == 2 and h.partial["num_batches"] == 4  # batches 0 and 1 stepped
    assert np.isfinite(h.partial["loss"]) and 0 <= h.partial["accuracy"] <= 1
    assert h.stop_reason == "error at epoch 3, batch 1: OSError: disk went away"
    assert "exception.history" in "".join(info.value.__notes__)
    assert "partial epoch 3 (2/4 batches)" in repr(h)
    # the epoch-2 checkpoint is intact, and what was trained since is saved next to it
    assert cr.load_checkpoint(path, model=nn.Linear(8, 3), restore_rng=False)["epoch"] == 2
    crash = tmp_path / "ck.interrupted.safetensors"
    probe = nn.Linear(8, 3)
    meta = cr.load_checkpoint(crash, model=probe, restore_rng=False)
    assert meta["fit"]["error"] == "OSError: disk went away" and meta["epoch"] == 2
    for k, v in weights(probe).items():
        np.testing.assert_array_equal(v, weights(model)[k])
    # callbacks finished: the gradient-health observer is detached, the model is in train mode
    assert monitor.health is None or monitor.health.detach not in engine.observers
    assert not any(getattr(o, "__self__", None) is monitor.health for o in engine.observers)
    assert model.training


def test_exception_in_the_data_is_reraised_with_history_and_trainer_keeps_it():
    x, y = small_arrays(96)

    class Flaky(TensorDataset):
        calls = 0

        def __getitem__(self, i):
            return super().__getitem__(i)

        def _batch(self, idx):
            Flaky.calls += 1
            if Flaky.calls == 6:  # preflight is 1; epochs of 3 batches: epoch 2, batch 1
                raise ValueError("corrupt record")
            return super()._batch(idx)

    ds = Flaky(cr.tensor(x), cr.tensor(y))
    model = nn.Linear(8, 3)
    trainer = Trainer(
        model,
        loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), 0.1),
        progress=False,
    )
    with pytest.raises(ValueError, match="corrupt record") as info:
        trainer.fit(DataLoader(ds, batch_size=32), epochs=3)
    assert trainer.history is info.value.history
    assert len(trainer.history) == 1
    assert trainer.history.partial["epoch"] == 2 and trainer.history.partial["batches"] == 1


def test_crash_with_nan_weights_keeps_only_the_last_good_checkpoint(tmp_path):
    x, y = small_arrays()
    model = nn.Linear(8, 3)

    class Poison(Callback):
        def on_batch_end(self, state):
            if state.epoch == 2 and state.batch == 0:
                with cr.no_grad():
                    model.weight.fill_(float("nan"))
                raise RuntimeError("boom")

    path = tmp_path / "ck.safetensors"
    with pytest.raises(RuntimeError, match="boom"):
        _fit_sgd(
            model,
            (x, y),
            epochs=3,
            batch_size=32,
            progress=False,
            callbacks=[ModelCheckpoint(path), Poison()],
        )
    assert not (tmp_path / "ck.interrupted.safetensors").exists()
    assert cr.load_checkpoint(path, model=nn.Linear(8, 3), restore_rng=False)["epoch"] == 1


def test_ctrl_c_mid_epoch_records_the_partial_epoch():
    x, y = small_arrays()
    model = nn.Linear(8, 3)

    class CtrlC(Callback):
        def on_batch_end(self, state):
            if state.epoch == 2 and state.batch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    h = _fit_sgd(
        model,
        (x, y),
        epochs=4,
        batch_size=32,
        progress=False,
        callbacks=[CtrlC()],
    )
    assert len(h) == 1 and h.stop_reason.startswith("interrupted (Ctrl-C) at epoch 2, batch 1")
    assert h.partial["epoch"] == 2 and h.partial["batches"] == 2
    assert "partial" not in h.records[0]


def test_keyboard_interrupt_raised_inside_a_batch_returns_history():
    # e.g. a second Ctrl-C, or a thread without a signal handler: fit still returns
    x, y = small_arrays()
    model = nn.Linear(8, 3)
    h = _fit_sgd(
        model,
        (x, y),
        epochs=4,
        batch_size=32,
        progress=False,
        callbacks=[FailAt(3, 2, KeyboardInterrupt())],
    )
    assert len(h) == 2 and h.partial["epoch"] == 3 and h.partial["batches"] == 3
    assert h.stop_reason == "interrupted (Ctrl-C) at epoch 3, batch 2"


def test_nan_loss_stop_records_the_partial_epoch():
    x, y = small_arrays()
    model = nn.Linear(8, 3)
    ce = nn.CrossEntropyLoss()
    calls = {"n": 0}

    def loss(out, t):
        calls["n"] += 1
        return ce(out, t) * (float("nan") if calls["n"] == 8 else 1.0)  # epoch 2, batch 2

    h = fit(
        model,
        (x, y),
        loss=loss,
        optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=3,
        batch_size=32,
        progress=False,
    )
    assert len(h) == 1 and h.partial["batches"] == 2 and np.isfinite(h.partial["loss"])


class SqrtHead(nn.Module):
    """Finite forward, but d sqrt(u)/du = inf at u = 0 after ``bad_after`` calls."""

    def __init__(self, bad_after: int) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 3)
        self.calls, self.bad_after = 0, bad_after

    def forward(self, x):
        self.calls += 1
        out = self.lin(x)
        if self.calls > self.bad_after:
            out = out + (out * 0).sqrt()
        return out


def test_detect_anomaly_in_backward_stops_cleanly_and_keeps_last_good_checkpoint(tmp_path):
    x, y = small_arrays()
    model = SqrtHead(bad_after=1 + 4 * 2 + 1)  # preflight, two epochs of 4 batches, 1 more
    path = tmp_path / "ck.safetensors"
    h = _fit_sgd(
        model,
        (x, y),
        epochs=5,
        batch_size=32,
        progress=False,
        detect_anomaly=True,
        callbacks=[ModelCheckpoint(path)],
    )
    assert len(h) == 2
    assert h.stop_reason.startswith("non-finite value (nan/inf) at epoch 3, batch 1 (step 10)")
    assert "sqrt" in h.stop_reason and "weights kept from the previous step" in h.stop_reason
    assert h.partial["batches"] == 1
    assert all(np.isfinite(v).all() for v in weights(model).values())
    assert all(p.grad is None or np.isfinite(p.grad.numpy()).all() for p in model.parameters())
    assert cr.load_checkpoint(path, model=SqrtHead(0), restore_rng=False)["epoch"] == 2
    assert not (tmp_path / "ck.interrupted.safetensors").exists()


def test_a_real_error_under_detect_anomaly_is_still_raised():
    x, y = small_arrays()
    model = nn.Linear(8, 3)
    with pytest.raises(RuntimeError, match="boom") as info:
        _fit_sgd(
            model,
            (x, y),
            epochs=2,
            batch_size=32,
            progress=False,
            detect_anomaly=True,
            callbacks=[FailAt(1, 1, RuntimeError("boom"))],
        )
    assert info.value.history.partial["batches"] == 2
    assert not cr.autograd.is_anomaly_enabled()


# ----------------------------------------------------------------------------- DataLoader RNG


def _loader(seed: int | None) -> DataLoader:
    """A shuffling loader with its own generator, or drawing from the global RNG (None)."""
    x, y = small_arrays(100)
    gen = None if seed is None else cr.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=16, shuffle=True, generator=gen
    )


class RecordBatches(Callback):
    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def on_batch_end(self, state):
        self.seen.append(state.target.numpy().copy())


def _model_opt():
    cr.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    return model, optim.Adam(model.parameters(), 1e-2)


def test_fit_does_not_consume_the_loaders_shuffle_before_epoch_one():
    model, opt = _model_opt()
    rec = RecordBatches()
    fit(
        model,
        _loader(7),
        loss=nn.CrossEntropyLoss(),
        optimizer=opt,
        epochs=1,
        progress=False,
        callbacks=[rec],
    )
    plain = [b[1].numpy() for b in _loader(7)]
    assert len(rec.seen) == len(plain)
    for a, b in zip(rec.seen, plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loader_seed", [5, None], ids=["own_generator", "global_rng"])
def test_resume_with_a_shuffling_dataloader_is_bit_identical(tmp_path, loader_seed):
    kwargs = {"loss": nn.CrossEntropyLoss(), "progress": False}
    model, opt = _model_opt()
    full_rec = RecordBatches()
    full = fit(model, _loader(loader_seed), optimizer=opt, epochs=4, callbacks=[full_rec], **kwargs)
    expected = weights(model)

    path = tmp_path / "ck.safetensors"
    model, opt = _model_opt()
    fit(
        model,
        _loader(loader_seed),
        optimizer=opt,
        epochs=2,
        callbacks=[ModelCheckpoint(path)],
        **kwargs,
    )
    cr.manual_seed(12345)  # a fresh process: other global RNG state, a fresh loader
    model, opt = _model_opt()
    rec = RecordBatches()
    resumed = fit(
        model,
        _loader(loader_seed),
        optimizer=opt,
        epochs=4,
        resume=path,
        callbacks=[ModelCheckpoint(path), rec],
        **kwargs,
    )
    for a, b in zip(rec.seen, full_rec.seen[len(full_rec.seen) // 2 :]):
        np.testing.assert_array_equal(a, b)  # same shuffling order in epochs 3-4
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, expected[k], err_msg=k)
    assert resumed["loss"] == full["loss"]


def test_save_and_load_checkpoint_restore_the_loader_generator(tmp_path):
    loader = _loader(1)
    next(iter(loader))  # one epoch's permutation drawn
    path = tmp_path / "ck.safetensors"
    cr.save_checkpoint(path, epoch=1, dataloader=loader)
    expected = [b[1].numpy() for b in loader]

    fresh = _loader(1)
    meta = cr.load_checkpoint(path, dataloader=fresh)
    assert meta["epoch"] == 1
    for a, b in zip([b[1].numpy() for b in fresh], expected):
        np.testing.assert_array_equal(a, b)

    # a loader with a sampler that owns the generator works the same way
    x, y = small_arrays(100)
    ds = TensorDataset(cr.tensor(x), cr.tensor(y))
    sampler = cr.data.RandomSampler(ds, generator=cr.Generator().manual_seed(4))
    by_sampler = DataLoader(ds, batch_size=16, sampler=sampler)
    assert list(cr.io.loader_generators(by_sampler)) == ["sampler"]


def test_load_checkpoint_dataloader_mismatch_changes_nothing(tmp_path):
    model = nn.Linear(8, 3)
    path = tmp_path / "ck.safetensors"
    cr.save_checkpoint(path, model=model, epoch=1)  # no dataloader saved
    target = nn.Linear(8, 3)
    before = weights(target)
    with pytest.raises(ValueError, match="holds no dataloader state"):
        cr.load_checkpoint(path, model=target, dataloader=_loader(0))
    cr.save_checkpoint(path, model=model, epoch=1, dataloader=_loader(0))
    x, y = small_arrays(100)
    unseeded = DataLoader(TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=16, shuffle=True)
    with pytest.raises(ValueError, match="generators \\['generator'\\].*none of its own"):
        cr.load_checkpoint(path, model=target, dataloader=unseeded)
    for k, v in weights(target).items():
        np.testing.assert_array_equal(v, before[k])


def test_detect_anomaly_stop_is_agreed_across_ranks(monkeypatch):
    """Under MPI a rank that finds a NaN must still join the stop vote after the backward,
    or the other ranks would wait for it in the next collective."""
    from chainrule.train import _distributed

    calls: list[str] = []

    class OneRank:
        def init_process_group(self):
            calls.append("init")

        def is_initialized(self):
            return bool(calls)

        def get_rank(self):
            return 0

        def get_world_size(self):
            return 1

        def broadcast(self, tensor, src=0):
            calls.append("broadcast")

        def all_reduce(self, tensor, op="sum"):
            calls.append(f"all_reduce:{op}")

    monkeypatch.setattr(_distributed, "_dist", lambda: OneRank())
    x, y = small_arrays(64)
    model = SqrtHead(bad_after=1 + 2)  # preflight, then batch 0 and 1 fine, batch 2 not
    h = _fit_sgd(
        model,
        (x, y),
        epochs=1,
        batch_size=16,
        progress=False,
        detect_anomaly=True,
        distributed=True,
    )
    assert h.stop_reason.startswith("non-finite value (nan/inf) at epoch 1, batch 2")
    # per batch: 2 gradient averages + the stop vote after backward (+ one after the step);
    # the failing batch still averages and votes after its backward, then stops
    assert calls.count("all_reduce:max") == 2 * 2 + 1
    assert calls.count("all_reduce:mean") == 3 * 2


def test_nan_weights_from_an_epochs_last_step_do_not_overwrite_the_checkpoint(tmp_path):
    x, y = small_arrays(64)
    model = nn.Linear(8, 3)

    class BreakLastStep(Callback):  # as if the epoch's last update overflowed
        def on_batch_end(self, state):
            if state.epoch == 2 and state.batch == state.num_batches - 1:
                with cr.no_grad():
                    model.weight.fill_(float("nan"))

    path = tmp_path / "ck.safetensors"
    h = _fit_sgd(
        model,
        (x, y),
        epochs=4,
        batch_size=32,
        progress=False,
        callbacks=[BreakLastStep(), ModelCheckpoint(path)],
    )
    assert len(h) == 2 and h.stop_reason.startswith("loss is nan at epoch 3, batch 0")
    saved = cr.load_checkpoint(path, model=nn.Linear(8, 3), restore_rng=False)
    assert saved["epoch"] == 1  # epoch 2 ended with a NaN weight: not written


_SIGTERM_SCRIPT = """
import os, signal, sys
import numpy as np
import chainrule as cr
from chainrule import nn, optim
from chainrule.train import Callback, ModelCheckpoint, fit

if sys.argv[2] == "handler":  # the program's own handler runs after fit saved
    signal.signal(signal.SIGTERM, lambda s, f: (print("own handler", flush=True), sys.exit(3)))

class Term(Callback):
    def on_batch_end(self, state):
        if state.epoch == 2 and state.batch == 1:
            os.kill(os.getpid(), signal.SIGTERM)

rng = np.random.default_rng(0)
x = rng.standard_normal((128, 8)).astype(np.float32)
y = rng.integers(0, 3, 128)
cr.manual_seed(0)
model = nn.Linear(8, 3)
fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
    epochs=4, batch_size=32, progress=False,
    callbacks=[Term(), ModelCheckpoint(os.path.join(sys.argv[1], "ck.safetensors"))])
print("after fit", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("mode", ["default", "handler"])
def test_sigterm_saves_the_work_then_ends_the_process(tmp_path, mode):
    import subprocess
    import sys

    script = tmp_path / "job.py"
    script.write_text(_SIGTERM_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "after fit" not in run.stdout
    if mode == "default":
        assert run.returncode == -signal.SIGTERM, run.stderr
    else:
        assert run.returncode == 3 and "own handler" in run.stdout, run.stderr
    # the checkpoint holds the weights of the stop (mid epoch 2), written before the process ended
    model = nn.Linear(8, 3)
    info = cr.load_checkpoint(str(tmp_path / "ck.safetensors"), model=model)
    assert info["epoch"] == 1  # one completed epoch: resume redoes the cut one
    assert np.isfinite(model.weight.detach().numpy()).all()
