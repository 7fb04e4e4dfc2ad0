"""Run a PyTorch script with chainrule swapped in for ``torch`` by the import alone.

``chainrule_as_torch()`` installs an import finder that answers ``import torch`` /
``import torch.nn.functional as F`` / ``from torch.utils.data import DataLoader`` with the
matching ``chainrule`` modules (``torch.X`` -> ``chainrule.X``), and restores the real torch
modules on exit. The script's source is not touched: this is exactly what a user gets by writing
``import chainrule as torch`` (plus the same for the submodule imports).

Run a script by hand with chainrule: ``python tests/compat/_swap.py SCRIPT [args...]``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

SCRIPTS = Path(__file__).parent / "scripts"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: Any) -> ModuleType:
        module = importlib.import_module(self.target)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # why: the chainrule module is already executed; aliasing must not run it twice. The
        # import system has just set module.__spec__ to the alias's spec: put the real one back,
        # or the module's relative imports would resolve against "torch...".
        module.__spec__ = self.own_spec


class _TorchToChainrule(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        alias = "chainrule" + fullname[len("torch") :]
        if importlib.util.find_spec(alias) is None:
            return None  # a torch module chainrule does not have: ImportError, as it should
        return importlib.util.spec_from_loader(fullname, _AliasLoader(alias))


@contextlib.contextmanager
def chainrule_as_torch() -> Iterator[ModuleType]:
    """Within the block, ``import torch`` (and ``torch.*``) imports chainrule."""
    saved = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    for k in saved:
        del sys.modules[k]
    finder = _TorchToChainrule()
    sys.meta_path.insert(0, finder)
    try:
        import chainrule

        yield chainrule
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def load_script(name: str) -> dict[str, Any]:
    """Execute ``scripts/<name>.py`` (not as __main__) and return its namespace."""
    return runpy.run_path(str(SCRIPTS / f"{name}.py"), run_name=f"compat_{name}")


def run_script(name: str, argv: list[str], *, chainrule: bool) -> dict[str, Any]:
    """Import the script under real torch or under chainrule and call its ``main(argv)``."""
    if not chainrule:
        return load_script(name)["main"](argv)
    with chainrule_as_torch():
        return load_script(name)["main"](argv)


if __name__ == "__main__":
    script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    with chainrule_as_torch():
        runpy.run_path(script, run_name="__main__")
