"""The sdist and wheel build, hold only what they may, and the wheel installs into a bare venv.

This runs inside ``make test`` (skipped when the ``build`` package, in the ``dev`` extra, is
missing): one isolated ``python -m build`` (sdist, then the wheel from the sdist), then a fresh
``python -m venv`` per interpreter, with no extras, that must end up with exactly chainrule plus
numpy, safetensors and tqdm and run ``chainrule train --task digits --epochs 1``. Besides this
interpreter, the newest newer Python found on the machine (3.13 here) gets the same check; it
is skipped where there is none. Every subprocess has a timeout (see clean_install.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("build")

import clean_install  # noqa: E402 - tests/packaging is on sys.path (pytest's prepend import mode)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) built once for this module, with build isolation as `make dist` does."""
    return clean_install.build(tmp_path_factory.mktemp("dist"))


def test_wheel_holds_code_typing_marker_digits_and_licences_only(dist):
    sdist, wheel = dist
    assert clean_install.check_wheel(wheel) == []


def test_sdist_holds_sources_and_licences_but_not_the_large_data(dist):
    sdist, wheel = dist
    assert clean_install.check_sdist(sdist) == []


def test_version_has_one_source_and_is_semver():
    import re

    import chainrule
    from chainrule._version import __version__

    assert chainrule.__version__ == __version__
    assert re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?", __version__)
    changelog = (clean_install.ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    # Keep a Changelog: an Unreleased section on top, then one "## [x.y.z] - date" per release.
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M)


_NEWER = clean_install.other_pythons()[:1]


@pytest.mark.parametrize(
    "python",
    [sys.executable, *_NEWER],
    ids=["this-python", *(f"python{Path(p).name.removeprefix('python')}" for p in _NEWER)],
)
def test_wheel_installs_with_core_dependencies_only_and_trains(dist, python, tmp_path):
    sdist, wheel = dist
    report = clean_install.clean_install(wheel, python, tmp_path)
    assert set(report.added) == {"chainrule", "numpy", "safetensors", "tqdm"}
    assert report.version_output.startswith("chainrule ")
    # The installed package is code plus the 58 kB digits: well under a few megabytes.
    assert 100_000 < report.installed_bytes < 5_000_000, report.installed_bytes


def test_readme_install_section_lists_core_dependencies_and_every_extra():
    import tomllib

    pyproject = tomllib.loads((clean_install.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    readme = (clean_install.ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    for dep in clean_install.CORE_DEPENDENCIES:
        assert f"**{dep}**" in install, dep
    extras = pyproject["project"]["optional-dependencies"]
    for extra in extras:
        assert f"| `{extra}` |" in install, f"README's Install table lacks the {extra!r} extra"
    assert pyproject["project"]["license"].startswith("MIT")
    assert (clean_install.ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
