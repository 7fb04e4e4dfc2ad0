"""The ``chainrule`` command line: ``train``, ``evaluate``, ``predict``, ``explain``, ``report``.

Each subcommand parses its options and makes a few library calls (``chainrule.models`` for
tasks and models, ``chainrule.train.fit`` / ``evaluate`` for training, ``chainrule.diagnose``
for explanations and reports); no logic lives only here.

Examples::

    chainrule train --task digits --model cnn --epochs 15 --out runs/digits
    chainrule evaluate runs/digits/checkpoint.safetensors
    chainrule predict --task shakespeare --prompt "To be or"
    chainrule explain runs/digits/checkpoint.safetensors
    chainrule report runs/digits
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

CHECKPOINT_NAME = "checkpoint.safetensors"


class CLIError(Exception):
    """A failure the user can fix (missing file, checkpoint of another task, input of the wrong
    shape): ``main`` prints its one-line message and exits with status 1."""


class UsageError(Exception):
    """Arguments that parse but do not fit together (an unknown model for the task, a missing
    CHECKPOINT/--task): reported like argparse's own errors, with the usage line, status 2."""


# ---------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand (``--help`` documents each option)."""
    from chainrule._version import __version__

    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train, evaluate and inspect neural networks with chainrule.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on failure, show the traceback, not a one-line error")  # fmt: skip
    # also accepted after the command (chainrule train --debug ...); SUPPRESS keeps the main
    # parser's value when the subcommand does not repeat it
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="on failure, show the full traceback")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    task_names = ["digits", "mnist", "shakespeare", "spoken-digits"]

    p = sub.add_parser(
        "train",
        parents=[debug],
        help="train a model on a task and save checkpoint, history, curves",
    )
    p.add_argument("--task", required=True, choices=task_names, help="what to learn")
    p.add_argument("--model", help="model name for the task (default: the task's default; "
                   "digits/mnist: cnn, mlp; shakespeare: char-lstm, word-lstm; "
                   "spoken-digits: gru, cnn)")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, help="number of epochs (task default)")
    p.add_argument("--lr", type=_positive_float, help="learning rate (task default)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop", "adagrad",
                                           "adadelta", "adamax", "nadam", "radam"],
                   help="optimizer (task default: adam)")  # fmt: skip
    p.add_argument("--momentum", type=_non_negative_float, default=0.9,
                   help="momentum for sgd (0.9)")  # fmt: skip
    p.add_argument("--weight-decay", type=_non_negative_float, default=0.0,
                   help="weight decay (0)")  # fmt: skip
    p.add_argument("--batch-size", type=_positive_int, help="mini-batch size (task default)")
    p.add_argument("--scheduler", choices=["none", "step", "cosine", "onecycle", "plateau"],
                   default="none", help="learning-rate schedule (none)")  # fmt: skip
    p.add_argument("--patience", type=_positive_int,
                   help="early stopping after this many epochs without val_loss improvement "
                   "(restores the best weights)")  # fmt: skip
    p.add_argument("--clip-grad-norm", type=_positive_float, help="clip the gradient norm")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--out", help="output directory (default runs/<task>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/checkpoint.safetensors")  # fmt: skip
    _add_data_options(p)
    p.add_argument("--level", choices=["char", "word"],
                   help="shakespeare: token level (from --model when omitted)")  # fmt: skip
    p.add_argument("--seq-len", type=_positive_int, default=64, help="shakespeare: tokens/sample")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    p.add_argument("--no-plot", action="store_true", help="do not write curves.png")
    p.add_argument("--health", action="store_true",
                   help="monitor gradient health every 10 steps; write health.json (for "
                   "`chainrule report`)")  # fmt: skip
    p.set_defaults(func=cmd_train, command_parser=p)

    p = sub.add_parser(
        "evaluate", parents=[debug], help="evaluate a saved checkpoint on its task's test set"
    )
    p.add_argument("checkpoint", help="checkpoint written by `chainrule train`")
    p.add_argument("--task", choices=task_names, help="check the checkpoint is for this task")
    p.add_argument("--split", choices=["test", "val", "train"], default="test",
                   help="which split to evaluate (test)")  # fmt: skip
    p.add_argument("--batch-size", type=_positive_int, default=256, help="batch size (256)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_data_options(p)
    p.set_defaults(func=cmd_evaluate, command_parser=p)

    p = sub.add_parser(
        "predict", parents=[debug], help="predict with a checkpoint (or generate text)"
    )
    p.add_argument("checkpoint", nargs="?",
                   help="checkpoint (default: runs/<task>/checkpoint.safetensors)")  # fmt: skip
    p.add_argument("--task", choices=task_names, help="the task (needed without a checkpoint)")
    p.add_argument("--prompt", help="shakespeare: text to continue")
    p.add_argument("--length", type=_positive_int, default=200, help="tokens to generate (200)")
    p.add_argument("--temperature", type=_positive_float, default=0.8, help="sampling temperature")
    p.add_argument("--top-k", type=_positive_int, help="sample among the k likeliest tokens")
    p.add_argument("--input", help="a .npy file of inputs to classify, or a .wav recording "
                   "(spoken-digits) (else test examples)")  # fmt: skip
    p.add_argument("--resample", action="store_true",
                   help="spoken-digits: resample a .wav recorded at another sample rate "
                   "(else it is rejected)")  # fmt: skip
    p.add_argument("--count", type=_positive_int, default=10, help="test examples to show (10)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    _add_data_options(p)
    p.set_defaults(func=cmd_predict, command_parser=p)

    p = sub.add_parser(
        "explain", parents=[debug], help="one training step as the chain rule with real numbers"
    )
    p.add_argument("checkpoint", nargs="?", help="checkpoint (default: a fresh model)")
    p.add_argument("--task", choices=task_names, default=None, help="task (digits)")
    p.add_argument("--model", help="model name when no checkpoint is given (mlp)")
    p.add_argument("--batch-size", type=_positive_int, default=4, help="examples in the step (4)")
    p.add_argument("--lr", type=_positive_float, default=0.1, help="SGD learning rate shown (0.1)")
    p.add_argument("--format", choices=["text", "markdown", "html"], default="text")
    _add_data_options(p)
    p.set_defaults(func=cmd_explain, command_parser=p)

    p = sub.add_parser(
        "report", parents=[debug], help="write a self-contained HTML report for a training run"
    )
    p.add_argument("run_dir", help="directory written by `chainrule train`")
    p.add_argument("--output", help="HTML file (default <run_dir>/report.html)")
    _add_data_options(p)
    p.set_defaults(func=cmd_report, command_parser=p)
    return parser


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory (default ./data/<dataset> or the repo's)")
    p.add_argument("--limit", type=_positive_int,
                   help="use only the first N examples of each split (quick runs)")  # fmt: skip


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _finite_float(text: str, *, zero_ok: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan  # fails both tests below (nan compares False)
    if not (value >= 0 if zero_ok else value > 0) or math.isinf(value):
        what = "a number >= 0" if zero_ok else "a positive number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    return _finite_float(text, zero_ok=True)


def _positive_float(text: str) -> float:
    return _finite_float(text, zero_ok=False)


# ---------------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    """``chainrule train``: fit a task's model; write checkpoint, history CSV and curves PNG."""
    import chainrule as cr
    from chainrule import models, train

    task = models.get_task(args.task)
    model_name = args.model or task.default_model
    if model_name not in models.MODELS[task.name]:
        raise UsageError(f"unknown model {model_name!r} for task {task.name!r}; "
                         f"valid: {', '.join(models.MODELS[task.name])}")  # fmt: skip
    out = Path(args.out or f"runs/{task.name}")
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {str(out)!r} is a file, not a directory")
    data = _load_task_data(task, args, model_name)
    out.mkdir(parents=True, exist_ok=True)  # only once the data loaded: no empty run dirs

    cr.manual_seed(args.seed)
    model = models.get_model(task.name, model_name, **data.model_kwargs)
    lr = args.lr or task.lr
    epochs = args.epochs or task.epochs
    optimizer = _make_optimizer(args.optimizer or task.optimizer, model, lr, args)
    batch_size = args.batch_size or task.batch_size
    steps_per_epoch = -(-len(data.train) // batch_size)
    scheduler = _make_scheduler(args.scheduler, optimizer, lr, epochs, steps_per_epoch)
    info = _run_info(task.name, model_name, data, args)
    checkpoint = out / CHECKPOINT_NAME
    callbacks: list[Any] = [
        train.ModelCheckpoint(checkpoint, extra=info),
        train.CSVLogger(out / "history.csv", append=args.resume),
    ]
    monitor = train.GradientMonitor(every_n_steps=10) if args.health else None
    if monitor is not None:
        callbacks.append(monitor)
    if args.patience:
        callbacks.append(train.EarlyStopping("val_loss", patience=args.patience,
                                             restore_best_weights=True))  # fmt: skip
    resume = checkpoint if args.resume and checkpoint.exists() else None
    if args.resume and resume is None:
        print(f"note: no checkpoint at {checkpoint}; starting from scratch", file=sys.stderr)

    # Under `mpirun -n N` the same command trains data-parallel (chainrule.distributed).
    import chainrule.distributed as dist

    distributed = dist.launched_by_mpirun()
    try:
        history = train.fit(
            model, data.train, loss=task.loss(), optimizer=optimizer, epochs=epochs,
            batch_size=batch_size, val_data=data.val, metrics=task.metrics, scheduler=scheduler,
            callbacks=callbacks, clip_grad_norm=args.clip_grad_norm, seed=args.seed,
            progress=not args.no_progress, resume=resume, distributed=distributed,
        )  # fmt: skip
    except Exception as e:
        history = getattr(e, "history", None)
        saved = callbacks[0].last_path
        if history is None or not saved or ".interrupted" not in saved:
            raise
        # one line that says where training stopped and where its weights are
        raise CLIError(f"{history.stop_reason}; the weights trained so far are in {saved} "
                       f"({len(history)} epochs completed)") from e  # fmt: skip
    if distributed and dist.get_rank() != 0:
        return 0  # under mpirun only rank 0 evaluates, writes the files and reports
    test = train.evaluate(model, data.test, loss=task.loss(), metrics=task.metrics)
    # on a NaN stop (TerminateOnNaN or detect_anomaly) keep the last good checkpoint
    if not (history.stop_reason or "").startswith(("loss is", "non-finite value")):
        cr.save_checkpoint(checkpoint, model=model, optimizer=optimizer, scheduler=scheduler,
                           epoch=len(history), history=history.to_dict(), test=test,
                           **info)  # fmt: skip
    history.to_csv(out / "history.csv")
    (out / "run.json").write_text(json.dumps({**info, "test": test}, indent=2, default=str))
    curves = _plot(history, out / "curves.png") if not args.no_plot else None
    if monitor is not None and monitor.reports:
        health = monitor.reports[-1].to_dict()
        (out / "health.json").write_text(json.dumps(health, indent=1, default=_json_default))

    print(f"test {_format_metrics(test)}")
    print(f"checkpoint: {checkpoint}")
    print(f"history:    {out / 'history.csv'}")
    if curves:
        print(f"curves:     {curves}")
    return 0


def _load_task_data(task: Any, args: argparse.Namespace, model_name: str, vocab: Any = None) -> Any:
    options: dict[str, Any] = {"data_dir": args.data_dir, "limit": args.limit}
    if task.sequence:
        level = getattr(args, "level", None) or (
            "word" if model_name.startswith("word") else "char"
        )
        options.update(level=level, seq_len=getattr(args, "seq_len", 64), vocab=vocab)
    options["seed"] = getattr(args, "seed", 0)
    try:
        return task.load(**options)
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None


def _run_info(task: str, model_name: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What evaluate/predict need to rebuild the model, stored in every checkpoint."""
    info: dict[str, Any] = {
        "task": task,
        "model_name": model_name,
        "model_kwargs": data.model_kwargs,
        "seed": args.seed,
    }
    if data.vocab is not None:
        info["vocab"] = {"tokens": list(data.vocab.itos), "unk": data.vocab.unk_token,
                         "level": data.vocab.level, "seq_len": args.seq_len}  # fmt: skip
    return info


def _make_optimizer(name: str, model: Any, lr: float, args: argparse.Namespace) -> Any:
    from chainrule import optim

    params, wd = model.parameters(), args.weight_decay
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=args.momentum, weight_decay=wd)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd or 1e-2)
    others = {"adagrad": optim.Adagrad, "adadelta": optim.Adadelta, "adamax": optim.Adamax,
              "nadam": optim.NAdam, "radam": optim.RAdam}  # fmt: skip
    return others.get(name, optim.Adam)(params, lr=lr, weight_decay=wd)


def _make_scheduler(name: str, optimizer: Any, lr: float, epochs: int, steps: int) -> Any:
    from chainrule.optim import lr_scheduler

    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.3)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps)
    if name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.3, patience=2)
    return None


def _plot(history: Any, path: Path) -> Path | None:
    try:
        history.plot(path)
    except ImportError as e:
        print(f"note: curves not plotted: {e}", file=sys.stderr)
        return None
    return path


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays in reports become plain numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _format_metrics(metrics: dict[str, float]) -> str:
    parts = []
    # accuracy first: it is the number people look for
    ordered = sorted(metrics.items(), key=lambda kv: kv[0] != "accuracy")
    for key, value in ordered:
        if key == "accuracy":
            parts.append(f"accuracy {100 * value:.2f}%")
        else:
            parts.append(f"{key} {value:.4f}")
    return " · ".join(parts)


# ------------------------------------------------------------------- evaluate and predict


def _restore(path: str, expected_task: str | None) -> tuple[Any, Any, dict[str, Any]]:
    """Rebuild the task, model and vocabulary recorded in a checkpoint, with its weights."""
    from chainrule import models
    from chainrule.io import load_checkpoint

    if not Path(path).is_file():
        raise CLIError(f"checkpoint {path!r} does not exist")
    meta = load_checkpoint(path, restore_rng=False)
    if "task" not in meta or "model_name" not in meta:
        raise CLIError(f"{path!r} was not written by `chainrule train` (no task/model recorded)")
    if expected_task and meta["task"] != expected_task:
        raise CLIError(f"{path!r} is a checkpoint for task {meta['task']!r}, not {expected_task!r}")
    task = models.get_task(meta["task"])
    model = models.get_model(task.name, meta["model_name"], **(meta.get("model_kwargs") or {}))
    load_checkpoint(path, model=model, restore_rng=False)
    model.eval()
    return task, model, meta


def _vocab_of(meta: dict[str, Any]) -> Any:
    if not meta.get("vocab"):
        return None
    from chainrule.data.datasets import Vocab

    v = meta["vocab"]
    return Vocab(v["tokens"], unk_token=v.get("unk"), level=v.get("level", "char"))


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``chainrule evaluate``: loss and metrics of a checkpoint on its task's data."""
    from chainrule import train

    task, model, meta = _restore(args.checkpoint, args.task)
    args.seed = meta.get("seed", 0)
    args.seq_len = (meta.get("vocab") or {}).get("seq_len", 64)
    data = _load_task_data(task, args, meta["model_name"], vocab=_vocab_of(meta))
    split = {"test": data.test, "val": data.val, "train": data.train}[args.split]
    results = train.evaluate(model, split, loss=task.loss(), metrics=task.metrics,
                             batch_size=args.batch_size)  # fmt: skip
    if args.json:
        print(json.dumps(results))
    else:
        print(f"{meta['task']} / {meta['model_name']} on {args.split} ({len(split)} examples): "
              f"{_format_metrics(results)}")  # fmt: skip
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``chainrule predict``: generate text (shakespeare) or classify inputs."""
    import numpy as np

    import chainrule as cr
    from chainrule import train

    path = args.checkpoint
    if path is None:
        if args.task is None:
            raise UsageError("give a CHECKPOINT or --task")
        path = str(Path("runs") / args.task / CHECKPOINT_NAME)
    task, model, meta = _restore(path, args.task)
    if task.sequence:
        from chainrule.models.text import generate

        prompt = args.prompt or "\n"
        print(generate(model, _vocab_of(meta), prompt, args.length, temperature=args.temperature,
                       top_k=args.top_k, seed=args.seed))  # fmt: skip
        return 0
    if args.input and str(args.input).lower().endswith(".wav"):
        from chainrule.models.apps import load_recording

        x = load_recording(args.input, resample_audio=args.resample)[None]
        labels = None
    elif args.input:
        x = _load_inputs(args.input)
        labels = None
    else:
        args.seq_len, args.seed = 64, meta.get("seed", 0)
        test = _load_task_data(task, args, meta["model_name"]).test
        pairs = [test[i] for i in range(min(args.count, len(test)))]
        x = np.stack([np.asarray(p[0]) for p in pairs])
        labels = [int(p[1]) for p in pairs]
    try:
        outputs = train.predict(model, x)
    except (RuntimeError, ValueError) as e:
        if not args.input:
            raise
        problem = (f"--input {args.input}: inputs of shape {tuple(x.shape)} do not fit the "
                   f"{meta['model_name']} model: {e}")  # fmt: skip
        raise CLIError(problem) from None
    probs = cr.softmax(outputs, dim=-1).numpy()
    for i, row in enumerate(probs):
        guess = int(row.argmax())
        truth = f"  (true {labels[i]})" if labels is not None else ""
        print(f"{i}: predicted {guess}  p={row[guess]:.3f}{truth}")
    return 0


def _load_inputs(path: str) -> Any:
    """The array in a .npy file, refusing pickles, archives and non-numeric data by name."""
    import numpy as np

    if not Path(path).is_file():
        raise CLIError(f"--input {path!r} does not exist")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise CLIError(f"--input {path!r} is not a .npy array ({e})") from None
    if not isinstance(x, np.ndarray):  # an .npz archive, or any zip (torch.save's format)
        x.close()
        raise CLIError(f"--input {path!r} is a zip/.npz archive, not a .npy array")
    if x.dtype.kind not in "biuf":
        raise CLIError(f"--input {path!r} holds {x.dtype} values, not numbers")
    return x


# ------------------------------------------------------------------- explain and report


def _diagnose_function(name: str) -> Any:
    from chainrule import diagnose

    fn = getattr(diagnose, name, None)
    if fn is None:
        raise CLIError(f"chainrule.diagnose.{name} is not available in this build")
    return fn


def cmd_explain(args: argparse.Namespace) -> int:
    """``chainrule explain``: one SGD step of a model on a few examples, as the chain rule."""
    import chainrule as cr
    from chainrule import models, optim

    explain = _diagnose_function("explain")
    if args.checkpoint:
        task, model, meta = _restore(args.checkpoint, args.task)
        model_name, vocab = meta["model_name"], _vocab_of(meta)
    else:
        task = models.get_task(args.task or "digits")
        model_name, vocab = args.model or "mlp", None
    args.seed, args.seq_len = 0, 16
    data = _load_task_data(task, args, model_name, vocab=vocab)
    if not args.checkpoint:
        model = models.get_model(task.name, model_name, **data.model_kwargs)
    n = min(args.batch_size, len(data.test))
    batch = [data.test[i] for i in range(n)]
    x = cr.stack([cr.as_tensor(b[0]) for b in batch])
    y = cr.stack([cr.as_tensor(b[1]) for b in batch])
    model.train()
    result = explain(model, x, y, task.loss(), optimizer=optim.SGD(model.parameters(), lr=args.lr))
    render = {"markdown": "to_markdown", "html": "to_html"}.get(args.format)
    print(getattr(result, render)() if render and hasattr(result, render) else str(result))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``chainrule report``: a self-contained HTML report of a run directory."""
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise CLIError(f"run directory {str(run_dir)!r} does not exist")
    report = _diagnose_function("report")
    output = args.output or str(run_dir / "report.html")
    written = report(run_dir, output=output)
    print(f"report: {written or output}")
    return 0


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script and ``python -m chainrule``.

    Exit status: 0 on success; 2 for usage errors (argparse's, and options that do not fit
    together), with the usage line; 1 for failures at run time (a missing file, a checkpoint
    of another task, input of the wrong shape, an error while training), with a one-line
    ``chainrule <command>: error: ...`` on stderr; 130 on Ctrl-C outside training. ``--debug``
    shows the full traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        args.command_parser.error(str(e))  # usage line + message, exit status 2
    except KeyboardInterrupt:
        if debug:
            raise
        parser.exit(130, f"chainrule {args.command}: interrupted\n")
    except Exception as e:  # every failure becomes one line, not a traceback
        if debug:
            raise
        parser.exit(1, f"chainrule {args.command}: error: {_one_line(e)}\n")
    return 0


def _one_line(error: BaseException) -> str:
    """The first line of an error's message; the type too when the message may not say enough
    (anything but chainrule's own, ValueError, RuntimeError and OSError, which name the
    problem), with a pointer to --debug when there is more to see."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if isinstance(error, CLIError):
        return text
    expected = isinstance(error, ValueError | RuntimeError | OSError)
    if not expected or not text:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if not expected or len(lines) > 1:
        text += " (run with --debug for the full traceback)"
    return text


if __name__ == "__main__":
    sys.exit(main())
