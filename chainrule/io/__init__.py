"""Saving and loading: safetensors files (never pickle) and resumable training checkpoints.

``cr.save`` / ``cr.load`` / ``cr.save_checkpoint`` / ``cr.load_checkpoint`` are these functions.
"""

from __future__ import annotations

from .checkpoint import load_checkpoint as load_checkpoint
from .checkpoint import loader_generators as loader_generators
from .checkpoint import rng_states as rng_states
from .checkpoint import save_checkpoint as save_checkpoint
from .checkpoint import set_rng_states as set_rng_states
from .safetensors import load as load
from .safetensors import load_file as load_file
from .safetensors import save as save
from .safetensors import save_file as save_file

__all__ = [
    "load",
    "load_checkpoint",
    "load_file",
    "loader_generators",
    "rng_states",
    "save",
    "save_checkpoint",
    "save_file",
    "set_rng_states",
]
