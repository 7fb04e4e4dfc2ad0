"""tests/compat: PyTorch scripts run with torch and with chainrule swapped in."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
