"""``chainrule.nn.functional`` (``F``): the functional form of every layer, activation and loss.

Each function validates its arguments (shapes, dtypes, values, with errors that name them) and
then makes one call into the fused ops of ``chainrule.ops.nn``; no math lives here.
"""

from __future__ import annotations
