"""MkDocs hook: the CLI reference shows the *current* ``--help`` texts.

docs/reference/cli.md prints each command's help with ``show_help(...)`` blocks (run by the
documentation tests); at build time this hook replaces the output block after each such call
with the help the installed CLI prints now, so the site never shows a stale option list.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
from pathlib import Path

_CALL = re.compile(
    r"(show_help\((?P<args>[^)]*)\)\n```\n\n```text title=\"Output\"\n)(?P<out>.*?)(\n```)", re.S
)


def _help(args: list[str]) -> str:
    from chainrule.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
            build_parser().parse_args([*args, "--help"])
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return buf.getvalue().rstrip("\n")


def on_config(config, **kwargs):  # noqa: ANN001, ANN201 - MkDocs hook signature
    """Make the checkout's chainrule importable even when it is not installed."""
    root = str(Path(config.config_file_path).parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return config


def on_page_markdown(markdown, page, **kwargs):  # noqa: ANN001, ANN201 - MkDocs hook signature
    """Refresh the help texts of the CLI reference page."""
    if page.file.src_uri != "reference/cli.md":
        return markdown

    def refresh(m: re.Match) -> str:
        args = ast.literal_eval(f"[{m['args']}]")
        return m.group(1) + _help(args) + m.group(4)

    return _CALL.sub(refresh, markdown)
