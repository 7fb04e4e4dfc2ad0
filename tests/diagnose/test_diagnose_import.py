"""chainrule.diagnose loads lazily and keeps optional extras (matplotlib, threadpoolctl) out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_diagnose_is_lazy_and_light() -> None:
    code = (
        "import sys, chainrule as cr\n"
        "assert 'chainrule.diagnose' not in sys.modules\n"
        "d = cr.diagnose\n"
        "assert callable(d.gradcheck) and callable(d.write_report)\n"
        "bad = [m for m in ('matplotlib', 'threadpoolctl', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
