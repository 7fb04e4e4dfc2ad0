"""``import chainrule`` must not pull in optional extras or lazily loaded pieces (named
test_lazy_import.py: tests/diagnose/test_import.py already takes the basename)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Optional extras, plus tqdm and safetensors: core dependencies, but only training progress bars
# and file IO need them, so they load on first use.
HEAVY = ["torch", "matplotlib", "onnx", "onnxruntime", "mpi4py", "tqdm", "safetensors", "scipy"]


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_chainrule_loads_no_optional_dependency():
    mods = _modules_after("import chainrule")
    loaded = sorted(m for m in HEAVY if m in mods)
    assert not loaded, f"import chainrule imported {loaded}"


def test_import_chainrule_loads_subpackages_lazily():
    mods = _modules_after("import chainrule")
    eager = sorted(
        m
        for m in ("chainrule.nn", "chainrule.optim", "chainrule.train", "chainrule.onnx")
        if m in mods
    )
    assert not eager, f"loaded at import time: {eager}"


def test_lazy_attribute_access_works():
    mods = _modules_after("import chainrule as cr\nassert cr.autograd is not None")
    assert "chainrule" in mods
