"""Random number generation: ``Generator``, ``manual_seed`` and the default generator.

Every random draw in chainrule (factories, dropout, initialisers, shuffling) goes through a
``Generator`` wrapping NumPy's PCG64, so the same seed gives the same numbers.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["Generator", "manual_seed", "default_generator", "seed", "initial_seed"]


class Generator:
    """A source of random numbers (PyTorch's ``torch.Generator``), backed by NumPy's PCG64."""

    def __init__(self, device: Any = "cpu") -> None:
        self._seed = 67280421310721
        self.rng = np.random.Generator(np.random.PCG64(self._seed))
        self.device = device

    def manual_seed(self, seed: int) -> Generator:
        """Reset the generator to ``seed``; returns the generator, as torch does."""
        seed = int(seed)
        self._seed = seed
        # PCG64 takes non-negative seeds; map negatives the way torch accepts them.
        self.rng = np.random.Generator(np.random.PCG64(seed & 0xFFFFFFFFFFFFFFFF))
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy and return the seed used."""
        s = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed last given to ``manual_seed``."""
        return self._seed

    def get_state(self) -> Any:
        """The full generator state as a uint8 tensor (saveable in a safetensors checkpoint)."""
        from ._tensor import Tensor

        payload = json.dumps({"seed": self._seed, "state": self.rng.bit_generator.state})
        return Tensor(np.frombuffer(payload.encode(), dtype=np.uint8).copy())

    def set_state(self, state: Any) -> Generator:
        """Restore a state returned by ``get_state``."""
        arr = np.asarray(getattr(state, "_data", state), dtype=np.uint8)
        try:
            payload = json.loads(arr.tobytes().decode())
            bit_state = payload["state"]
            bg = np.random.PCG64()
            bg.state = bit_state
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(f"Generator.set_state: not a chainrule generator state ({e})") from e
        self._seed = int(payload["seed"])
        self.rng = np.random.Generator(bg)
        return self

    def __repr__(self) -> str:
        return f"<chainrule.Generator seed={self._seed}>"


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and NumPy's legacy global RNG, which user code may use)."""
    np.random.seed(int(seed) & 0xFFFFFFFF)
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    """The default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(state: Any) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(state)


def rng(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator to draw from: the given one, or the default."""
    return (generator or default_generator).rng
