"""Every Python block of the documentation runs (docs/**/*.md; README.md is run by
tests/train/test_readme.py). One test per page: the page's blocks run in order in a fresh
namespace, in a temporary working directory, with the budgets written in the page."""

from __future__ import annotations

import pytest
from _docs_pages import DOCS, SKIP_PAGES, blocks, missing_optional, pages, run_page

PAGES = pages()
# Pages whose shown output must equal what the code prints (none at present: the CLI page's
# help texts are refreshed at build time by docs/hooks/cli_help.py instead).
CHECK_OUTPUT: set[str] = set()


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_runs(path, tmp_path):
    rel = str(path.relative_to(DOCS))
    if rel in SKIP_PAGES:
        pytest.skip(SKIP_PAGES[rel])
    code = "".join(b.code for b in blocks(path.read_text(encoding="utf-8")) if b.runs)
    missing = missing_optional(code)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    results = run_page(path, tmp_path)
    # A page must not leave global state behind for the rest of the suite.
    from chainrule.autograd import engine
    from chainrule.autograd.grad_mode import state

    assert not engine.observers, f"{rel} left autograd observers registered"
    assert state.enabled, f"{rel} left gradient recording switched off"
    if rel in CHECK_OUTPUT:
        # Pages whose shown output must stay exactly what the code prints (no float noise).
        shown = {}
        bs = blocks(path.read_text(encoding="utf-8"))
        for b, nxt in zip(bs, bs[1:]):
            if nxt.is_output:
                shown[b.start] = nxt.code
        for b, out in results:
            assert out.rstrip("\n") == shown.get(b.start, "").rstrip("\n"), (
                f"{rel}:{b.start + 1}: the output shown differs from what the code prints now; "
                "re-run tests/docs/render_outputs.py " + rel
            )


def test_collector_finds_the_course():
    """The collector sees the course pages (a moved docs tree must not silently test nothing)."""
    names = {str(p.relative_to(DOCS)) for p in PAGES}
    assert sum(n.startswith("course/") for n in names) >= 12, sorted(names)


def test_no_run_blocks_are_rare():
    """Blocks shown but not run are the exception: each page runs most of its Python."""
    for p in PAGES:
        bs = [b for b in blocks(p.read_text(encoding="utf-8")) if b.lang == "python"]
        rel = str(p.relative_to(DOCS))
        if rel in SKIP_PAGES:
            continue
        assert sum(b.runs for b in bs) >= sum(not b.runs for b in bs), rel
