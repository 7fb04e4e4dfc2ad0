"""Build chainrule's sdist and wheel and install the wheel into a fresh virtual environment.

Used by ``tests/packaging/test_dist.py`` (inside ``make test``) and by ``make dist-check``, which
prints the report::

    python tests/packaging/clean_install.py [--dist DIR] [--python EXE ...]

Without ``--dist`` it builds into a temporary directory with ``python -m build`` (sdist first,
then the wheel from the unpacked sdist, so a file missing from the sdist breaks the wheel too).
Each interpreter gets its own ``python -m venv`` with no extras; the wheel is installed with pip
(numpy, safetensors and tqdm come from the package indexes pip is configured with) and must bring
in exactly the core dependencies. Then ``import chainrule``, ``chainrule --version`` and
``chainrule train --task digits --epochs 1`` run from an empty working directory.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_DEPENDENCIES = {"numpy", "safetensors", "tqdm"}
# Bounds (seconds) so a hung pip or build fails the test instead of the whole CI run.
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 300
RUN_TIMEOUT = 180
# The wheel ships code, py.typed and the bundled digits (about 60 kB): anything near a megabyte
# means data or build debris slipped in. The sdist leaves out data/ (34 MB) and benchmark output.
MAX_WHEEL_BYTES = 1_500_000
MAX_SDIST_BYTES = 2_500_000


@dataclass
class InstallReport:
    """What one clean install produced (sizes in bytes)."""

    python: str
    python_version: str
    wheel: str
    wheel_bytes: int
    installed_bytes: int
    installed_files: int
    bytecode_bytes: int
    added: dict[str, str] = field(default_factory=dict)  # distribution -> version
    baseline: list[str] = field(default_factory=list)  # what the empty venv already had
    version_output: str = ""
    train_output: str = ""


def source_version() -> str:
    """The version in this checkout's chainrule/_version.py (what the build will stamp)."""
    text = (ROOT / "chainrule" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if match is None:
        raise RuntimeError('chainrule/_version.py has no __version__ = "..." line')
    return match.group(1)


def _clean_env() -> dict[str, str]:
    """The environment without anything that points a child Python at this checkout or .venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH"}
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["MPLBACKEND"] = "Agg"
    bindir = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bindir)
    return env


def _run(cmd: list[str], *, timeout: float, cwd: Path | None = None) -> str:
    """Run ``cmd``; return its stdout, or raise with the command's full output on failure."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


def build(outdir: Path, *, isolation: bool = True) -> tuple[Path, Path]:
    """``python -m build`` the repository into ``outdir``; return (sdist, wheel).

    ``isolation=False`` builds with this interpreter's setuptools (faster: no build venv).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "build", "--outdir", str(outdir)]
    if not isolation:
        cmd.append("--no-isolation")
    _run([*cmd, str(ROOT)], timeout=BUILD_TIMEOUT)
    return find_dist(outdir)


def find_dist(outdir: Path) -> tuple[Path, Path]:
    """The one sdist and the one wheel in ``outdir``."""
    sdists = sorted(outdir.glob("chainrule-*.tar.gz"))
    wheels = sorted(outdir.glob("chainrule-*-py3-none-any.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise RuntimeError(f"expected one sdist and one wheel in {outdir}: {sdists} {wheels}")
    return sdists[0], wheels[0]


def check_wheel(wheel: Path) -> list[str]:
    """Problems with the wheel's contents and metadata (an empty list when it is right)."""
    __version__ = source_version()
    problems = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name).decode()
    tops = {n.split("/")[0] for n in names}
    dist_info = f"chainrule-{__version__}.dist-info"
    if tops != {"chainrule", dist_info}:
        problems.append(f"top-level entries other than chainrule/ and {dist_info}: {sorted(tops)}")
    required = [
        "chainrule/py.typed",
        "chainrule/_version.py",
        "chainrule/data/datasets/_data/digits.csv.gz",
        "chainrule/data/datasets/_data/LICENSE-digits.txt",
        "chainrule/data/datasets/_data/SOURCE.md",
        f"{dist_info}/licenses/LICENSE",
        f"{dist_info}/entry_points.txt",
    ]
    problems += [f"missing from the wheel: {n}" for n in required if n not in names]
    bad = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so", ".safetensors"))]
    bad += [n for n in names if re.search(r"(mnist|fsdd|tinyshakespeare|recordings)/", n)]
    problems += [f"does not belong in the wheel: {n}" for n in bad]
    if wheel.stat().st_size > MAX_WHEEL_BYTES:
        problems.append(f"wheel is {wheel.stat().st_size} bytes (> {MAX_WHEEL_BYTES})")
    requires = sorted(
        line.split(":", 1)[1].strip()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:")
    )
    core = [r for r in requires if "extra ==" not in r]
    core_names = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower() for r in core}
    if core_names != CORE_DEPENDENCIES:
        problems.append(f"unconditional Requires-Dist {core} (want only {CORE_DEPENDENCIES})")
    for header in (
        f"Version: {__version__}",
        "License-Expression: MIT AND BSD-3-Clause",
        "Requires-Python: >=3.11",
        "Classifier: Typing :: Typed",
        "Classifier: Topic :: Scientific/Engineering :: Artificial Intelligence",
    ):
        if header not in meta.splitlines():
            problems.append(f"METADATA lacks {header!r}")
    return problems


def check_sdist(sdist: Path) -> list[str]:
    """Problems with the sdist's contents (an empty list when it is right)."""
    __version__ = source_version()
    problems = []
    with tarfile.open(sdist) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    top = f"chainrule-{__version__}"
    if not sdist.name.startswith(top):
        problems.append(f"sdist {sdist.name} is not version {__version__}")
    required = [
        "pyproject.toml",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "data/README.md",
        "chainrule/py.typed",
        "chainrule/data/datasets/_data/digits.csv.gz",
        "chainrule/data/datasets/_data/LICENSE-digits.txt",
        "tests/packaging/clean_install.py",
    ]
    problems += [f"missing from the sdist: {n}" for n in required if n not in names]
    bad = [
        n
        for n in names
        if n.startswith(("data/mnist/t", "data/fsdd/recordings", "benchmarks/out/", ".venv/"))
        or n == "data/tinyshakespeare/input.txt"
        or "__pycache__" in n
        or n.endswith(".pyc")
    ]
    problems += [f"does not belong in the sdist: {n}" for n in bad]
    if sdist.stat().st_size > MAX_SDIST_BYTES:
        problems.append(f"sdist is {sdist.stat().st_size} bytes (> {MAX_SDIST_BYTES})")
    return problems


def _installed(venv_python: Path) -> dict[str, str]:
    """Distribution name (normalised) -> version of everything installed in the venv.

    importlib.metadata in the venv's own interpreter sees what pip sees (``pip list`` costs a
    second or two per call on a loaded machine).
    """
    script = (
        "import json, importlib.metadata as md, re\n"
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version"
        " for d in md.distributions()}))"
    )
    return json.loads(_run([str(venv_python), "-I", "-c", script], timeout=RUN_TIMEOUT))


_SIZE_SCRIPT = """
import json, os, importlib.metadata as md
d = md.distribution("chainrule")
files = [f for f in d.files if f.parts[0] == "chainrule" and os.path.isfile(f.locate())]
src = [os.path.getsize(f.locate()) for f in files if "__pycache__" not in f.parts]
pyc = [os.path.getsize(f.locate()) for f in files if "__pycache__" in f.parts]
import chainrule
print(json.dumps({"bytes": sum(src), "files": len(src), "pyc_bytes": sum(pyc),
                  "file": chainrule.__file__, "version": chainrule.__version__}))
"""


def clean_install(wheel: Path, python: str, workdir: Path) -> InstallReport:
    """Install ``wheel`` with no extras into a new venv made by ``python``; run the smoke checks."""
    __version__ = source_version()
    venv = workdir / "venv"
    _run([python, "-m", "venv", str(venv)], timeout=INSTALL_TIMEOUT)
    vpy = venv / "bin" / "python"
    baseline = _installed(vpy)
    if not set(baseline) <= {"pip", "setuptools", "wheel"}:
        raise AssertionError(f"the new venv is not bare: {sorted(baseline)}")
    _run([str(vpy), "-m", "pip", "install", "--quiet", str(wheel)], timeout=INSTALL_TIMEOUT)
    after = _installed(vpy)
    added = {k: v for k, v in after.items() if k not in baseline}
    if set(added) != CORE_DEPENDENCIES | {"chainrule"}:
        raise AssertionError(f"installing the wheel added {added}; want chainrule + core deps")

    cwd = workdir / "cwd"  # empty, so nothing of the checkout can be imported by accident
    cwd.mkdir()
    pyver = _run([str(vpy), "-c", "import sys; print(sys.version.split()[0])"], timeout=RUN_TIMEOUT)
    _run([str(vpy), "-c", "import chainrule"], timeout=RUN_TIMEOUT, cwd=cwd)
    info = json.loads(_run([str(vpy), "-c", _SIZE_SCRIPT], timeout=RUN_TIMEOUT, cwd=cwd))
    if not Path(info["file"]).is_relative_to(venv) or info["version"] != __version__:
        raise AssertionError(f"the venv imported the wrong chainrule: {info}")
    exe = str(venv / "bin" / "chainrule")
    version = _run([exe, "--version"], timeout=RUN_TIMEOUT, cwd=cwd).strip()
    if version != f"chainrule {__version__}":
        raise AssertionError(f"chainrule --version printed {version!r}")
    train = _run(
        [exe, "train", "--task", "digits", "--epochs", "1", "--no-progress", "--out", "run"],
        timeout=RUN_TIMEOUT,
        cwd=cwd,
    )
    if not re.search(r"accuracy", train, re.IGNORECASE) or not any((cwd / "run").iterdir()):
        raise AssertionError(f"chainrule train printed no accuracy or wrote nothing:\n{train}")
    return InstallReport(
        python=python,
        python_version=pyver.strip(),
        wheel=wheel.name,
        wheel_bytes=wheel.stat().st_size,
        installed_bytes=info["bytes"],
        installed_files=info["files"],
        bytecode_bytes=info["pyc_bytes"],
        added=dict(sorted(added.items())),
        baseline=sorted(baseline),
        version_output=version,
        train_output=train.strip(),
    )


def other_pythons() -> list[str]:
    """Interpreters newer than this one that actually run (pyenv shims may not), newest first."""
    found: dict[tuple[int, int], str] = {}
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for minor in range(sys.version_info[1] + 1, 20):
        candidates = [shutil.which(f"python3.{minor}") or ""]
        candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.{minor}.*/bin/python3.{minor}"))
        for exe in filter(None, candidates):
            try:
                ok = subprocess.run(
                    [exe, "-c", "import venv, ensurepip"],
                    capture_output=True,
                    env=_clean_env(),
                    timeout=30,
                ).returncode
            except (OSError, subprocess.TimeoutExpired):
                continue
            if ok == 0:
                found[(3, minor)] = exe
                break
    return [found[k] for k in sorted(found, reverse=True)]


def main(argv: list[str] | None = None) -> int:
    """Check the distributions and print the report; 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, help="directory with a built sdist and wheel")
    parser.add_argument(
        "--python",
        action="append",
        help="interpreter(s) to install into (default: this one and every newer one found)",
    )
    args = parser.parse_args(argv)
    pythons = args.python or [sys.executable, *other_pythons()]
    with tempfile.TemporaryDirectory(prefix="chainrule-dist-") as tmp:
        tmp = Path(tmp)
        sdist, wheel = find_dist(args.dist) if args.dist else build(tmp / "dist")
        problems = check_wheel(wheel) + check_sdist(sdist)
        for p in problems:
            print("PROBLEM:", p)
        print(f"sdist  {sdist.name}: {sdist.stat().st_size / 1e3:.1f} kB")
        print(f"wheel  {wheel.name}: {wheel.stat().st_size / 1e3:.1f} kB")
        for i, python in enumerate(pythons):
            r = clean_install(wheel, python, tmp / f"venv{i}")
            deps = ", ".join(f"{k} {v}" for k, v in r.added.items())
            print(f"Python {r.python_version} ({r.python}):")
            print(f"  installed: {deps}  (venv already had: {', '.join(r.baseline)})")
            print(
                f"  chainrule installed: {r.installed_bytes / 1e3:.1f} kB in {r.installed_files}"
                f" files, plus {r.bytecode_bytes / 1e3:.1f} kB of bytecode pip compiled"
            )
            print(f"  {r.version_output}; train --task digits --epochs 1:")
            lines = [ln for ln in r.train_output.splitlines() if "accuracy" in ln] or ["(none)"]
            print("    " + lines[0])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
