"""``chainrule.train``: a readable training loop (``fit``), ``Trainer``, callbacks, metrics,
regularizers, progress bars and ``History``.

The PyTorch-style manual loop works too; ``fit`` is that same loop written once, in
``train/loop.py``, so it can be read top to bottom.
"""

from __future__ import annotations

from . import metrics as metrics
from .callbacks import Callback as Callback
from .callbacks import CSVLogger as CSVLogger
from .callbacks import EarlyStopping as EarlyStopping
from .callbacks import FitState as FitState
from .callbacks import GradientMonitor as GradientMonitor
from .callbacks import LearningRateMonitor as LearningRateMonitor
from .callbacks import ModelCheckpoint as ModelCheckpoint
from .callbacks import TerminateOnNaN as TerminateOnNaN
from .history import History as History
from .loop import evaluate as evaluate
from .loop import fit as fit
from .loop import predict as predict
from .metrics import Metric as Metric
from .progress import ProgressBar as ProgressBar
from .regularizers import L1 as L1
from .regularizers import L1L2 as L1L2
from .regularizers import L2 as L2
from .regularizers import Regularizer as Regularizer
from .trainer import Trainer as Trainer

__all__ = [
    "fit",
    "evaluate",
    "predict",
    "Trainer",
    "History",
    "Callback",
    "FitState",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateMonitor",
    "CSVLogger",
    "TerminateOnNaN",
    "GradientMonitor",
    "ProgressBar",
    "Metric",
    "metrics",
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
]
