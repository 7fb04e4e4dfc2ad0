"""Training checkpoints: model, optimizer, scheduler, epoch, extras and every RNG state in one file.

The file is an ordinary safetensors file written atomically by ``chainrule.io.save``: the model's
tensors are stored under ``model.<state_dict key>`` (so other tools can read the weights), the
optimizer's state tensors under ``optimizer.state.<param index>.<name>``, and everything that is not
a tensor (hyper-parameters, scheduler counters, epoch, your extras) as JSON in ``__metadata__``.
Restoring the RNG states (chainrule's default generator, NumPy's legacy global state and Python's
``random``) is what makes a resumed run continue bit for bit like an uninterrupted one.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import _random
from .safetensors import load_with_metadata, save

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "rng_states",
    "set_rng_states",
    "loader_generators",
]

_FORMAT = "chainrule.checkpoint"


def rng_states() -> dict[str, Any]:
    """Every global RNG state chainrule and typical user code draw from."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "chainrule": _random.default_generator.get_state(),
        "numpy": {
            "keys": np.asarray(keys, dtype=np.int64),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "state": np.asarray(internal, dtype=np.int64),
            "gauss_next": gauss_next,
        },
    }


def set_rng_states(states: Mapping[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    if "chainrule" in states:
        _random.default_generator.set_state(states["chainrule"])
    if "numpy" in states:
        s = states["numpy"]
        keys = np.asarray(getattr(s["keys"], "_data", s["keys"])).astype(np.uint32)
        np.random.set_state(("MT19937", keys, s["pos"], s["has_gauss"], s["cached_gaussian"]))
    if "python" in states:
        s = states["python"]
        internal = tuple(int(v) for v in np.asarray(getattr(s["state"], "_data", s["state"])))
        random.setstate((s["version"], internal, s["gauss_next"]))


def loader_generators(loader: Any) -> dict[str, Any]:
    """The ``chainrule.Generator`` objects a DataLoader (or sampler) shuffles with, by role.

    A loader built with ``generator=``/``seed=`` or a sampler with its own ``generator``
    draws its shuffling order from that object, not from the global RNG that ``rng_states``
    covers; a checkpoint must keep its state for a resumed run to see the same batch order.
    Roles: ``"generator"`` (the loader's), ``"sampler"``, ``"batch_sampler.sampler"``; one
    generator shared by several is listed once. Empty when everything draws from the global RNG.
    """
    found: dict[str, Any] = {}
    batch_sampler = getattr(loader, "batch_sampler", None)
    holders = (
        ("generator", loader),
        ("sampler", getattr(loader, "sampler", None)),
        ("batch_sampler.sampler", getattr(batch_sampler, "sampler", None)),
    )
    for role, holder in holders:
        g = getattr(holder, "generator", None)
        if isinstance(g, _random.Generator) and all(g is not h for h in found.values()):
            found[role] = g
    return found


def save_checkpoint(
    path: str | os.PathLike,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int | None = None,
    dataloader: Any = None,
    **extra: Any,
) -> None:
    """Save a resumable training checkpoint to ``path`` (atomically).

    Args:
        path: the ``.safetensors`` file to write.
        model, optimizer, scheduler: objects with ``state_dict()`` (any may be omitted).
        epoch: the epoch (or step) reached.
        dataloader: the training DataLoader (or a sampler): the state of the generator it
            shuffles with is saved, so that ``load_checkpoint(..., dataloader=)`` continues
            with the same shuffling order. (Loaders without their own ``generator`` draw
            from the global RNG, which is always saved.)
        **extra: more values to keep (step counters, a history dict, best metric …): tensors,
            numbers, strings, None, bools and dicts / lists of them.

    Example:
        >>> cr.save_checkpoint("ck.safetensors", model=net, epoch=3)  # doctest: +SKIP
    """
    payload: dict[str, Any] = {"format": _FORMAT, "epoch": epoch}
    if model is not None:
        payload["model"] = dict(model.state_dict())
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    if dataloader is not None:
        payload["dataloader"] = {
            role: g.get_state() for role, g in loader_generators(dataloader).items()
        }
    payload["extra"] = dict(extra)
    payload["rng"] = rng_states()
    save(payload, path, metadata={"format": "pt"})


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(getattr(x, "shape", ()))


def _check_model(path: str, model: Any, saved: Mapping[str, Any]) -> None:
    current = model.state_dict()
    for key, value in current.items():
        if key not in saved:
            raise RuntimeError(
                f"load_checkpoint({path!r}): the checkpoint is for a different architecture: "
                f"key {key!r} of the model is missing from the checkpoint"
            )
        if _shape(saved[key]) != _shape(value):
            raise RuntimeError(
                f"load_checkpoint({path!r}): the checkpoint is for a different architecture: "
                f"{key!r} has shape {list(_shape(saved[key]))} in the checkpoint but "
                f"{list(_shape(value))} in the model"
            )
    for key in saved:
        if key not in current:
            raise RuntimeError(
                f"load_checkpoint({path!r}): the checkpoint is for a different architecture: "
                f"unexpected key {key!r} (not in the model)"
            )


def _check_optimizer(path: str, optimizer: Any, saved: Mapping[str, Any]) -> None:
    groups = optimizer.state_dict().get("param_groups", [])
    saved_groups = saved.get("param_groups", [])
    if len(groups) != len(saved_groups):
        raise ValueError(
            f"load_checkpoint({path!r}): the checkpoint's optimizer has {len(saved_groups)} "
            f"parameter groups, this optimizer has {len(groups)}"
        )
    for i, (g, s) in enumerate(zip(groups, saved_groups)):
        # Another optimizer type has other hyper-parameters (SGD's momentum vs Adam's betas):
        # loading it would replace this optimizer's settings and fail, or misbehave, later.
        # (initial_lr is added by whichever lr scheduler was created; it is not a type marker.)
        mine, theirs = set(g) - {"params", "initial_lr"}, set(s) - {"params", "initial_lr"}
        if mine != theirs:
            raise ValueError(
                f"load_checkpoint({path!r}): the checkpoint's optimizer is of another type: its "
                f"parameter group {i} has settings {sorted(theirs)}, this "
                f"{type(optimizer).__name__} has {sorted(mine)}"
            )
        if len(g.get("params", [])) != len(s.get("params", [])):
            raise ValueError(
                f"load_checkpoint({path!r}): loaded state dict contains a parameter group "
                f"({i}) that doesn't match the size of optimizer's group: "
                f"{len(s.get('params', []))} vs {len(g.get('params', []))} parameters"
            )


def _check_scheduler(path: str, scheduler: Any, saved: Any) -> None:
    # Public state keys identify the scheduler type (StepLR has step_size, ExponentialLR not);
    # loading another type's state would silently change this scheduler's settings.
    mine = {k for k in scheduler.state_dict() if not k.startswith("_")}
    theirs = {k for k in (saved if isinstance(saved, Mapping) else {}) if not k.startswith("_")}
    if mine != theirs:
        raise ValueError(
            f"load_checkpoint({path!r}): the checkpoint's scheduler is of another type: it "
            f"holds {sorted(theirs)}, this {type(scheduler).__name__} has {sorted(mine)}"
        )


def _check_dataloader(path: str, dataloader: Any, saved: Any) -> None:
    mine = sorted(loader_generators(dataloader))
    theirs = sorted(saved) if isinstance(saved, Mapping) else None
    if theirs is None:
        raise ValueError(
            f"load_checkpoint({path!r}): the checkpoint holds no dataloader state (save it "
            "with save_checkpoint(..., dataloader=loader))"
        )
    if mine != theirs:
        raise ValueError(
            f"load_checkpoint({path!r}): the checkpoint's dataloader shuffled with generators "
            f"{theirs}, this {type(dataloader).__name__} has {mine or 'none of its own'}"
        )
    for role in mine:
        try:  # a damaged state must fail here, before any object changes
            _random.Generator().set_state(saved[role])
        except RuntimeError as e:
            raise ValueError(f"load_checkpoint({path!r}): dataloader {role}: {e}") from None


def load_checkpoint(
    path: str | os.PathLike,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    dataloader: Any = None,
    restore_rng: bool = True,
    strict: bool = True,
) -> dict[str, Any]:
    """Restore a checkpoint written by ``save_checkpoint`` into the given objects.

    Everything is validated (file format, architecture, optimizer groups, dataloader
    generators) before any object is changed. Returns ``{"epoch": epoch, **extra}``; the RNG
    states are restored unless ``restore_rng=False``, and so is the shuffling generator of
    ``dataloader`` (pass the same kind of loader that was passed to ``save_checkpoint``).

    Raises:
        ValueError: not a valid checkpoint file, or an optimizer with other parameter groups.
        RuntimeError: the model's architecture differs (names the first mismatched key/shape).
    """
    spath = os.fspath(path)
    payload, _ = load_with_metadata(spath)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(
            f"load_checkpoint({spath!r}): not a chainrule checkpoint (a plain state_dict? load "
            "it with cr.load and model.load_state_dict)"
        )
    for name, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and name not in payload:
            raise ValueError(f"load_checkpoint({spath!r}): the checkpoint holds no {name} state")
    if model is not None and strict:
        _check_model(spath, model, payload["model"])
    if optimizer is not None:
        _check_optimizer(spath, optimizer, payload["optimizer"])
    if scheduler is not None:
        _check_scheduler(spath, scheduler, payload["scheduler"])
    if dataloader is not None:
        _check_dataloader(spath, dataloader, payload.get("dataloader"))
    if model is not None:
        model.load_state_dict(payload["model"], strict=strict)
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(payload["scheduler"])
    if dataloader is not None:
        generators = loader_generators(dataloader)
        for role, state in payload["dataloader"].items():
            generators[role].set_state(state)
    if restore_rng:
        set_rng_states(payload["rng"])
    out = {"epoch": payload.get("epoch")}
    out.update(payload.get("extra", {}))
    return out
