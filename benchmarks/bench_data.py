"""Data pipeline throughput: one MNIST epoch through DataLoader vs torch's, and FSDD log-mel.

1. One epoch of the 60,000 MNIST training images (float32, scaled to [0, 1]) in batches of 128
   with shuffling, through ``chainrule.data.DataLoader`` over a ``TensorDataset`` (the fast path:
   one fancy index per batch) and through ``torch.utils.data.DataLoader`` over a torch
   ``TensorDataset`` of the same arrays (torch's default per-sample fetch + collate).
   Also chainrule's ``MNIST`` dataset object itself (uint8 -> float per batch).
2. Log-mel features (40 mels, n_fft 256, hop 80) for the 3,000 FSDD recordings padded to 1 s,
   computed in one batched NumPy call; reported as recordings per second.

Each figure is the best of 3 runs, one process, torch limited to the same thread count.
Run: .venv/bin/python benchmarks/bench_data.py
"""

from __future__ import annotations

import glob
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chainrule as cr  # noqa: E402
from chainrule.data import DataLoader, TensorDataset, audio  # noqa: E402
from chainrule.data.datasets import MNIST  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def best_of(fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def epoch(loader) -> int:
    """Iterate one epoch; returns the number of batches (touching each batch's data)."""
    n = 0
    for x, _ in loader:
        n += x.shape[0]
    return n


def main() -> None:
    """Print the epoch times and the log-mel throughput."""
    mnist = MNIST(ROOT / "data" / "mnist", train=True)
    x, y = mnist.arrays()
    print(f"MNIST train: {x.shape} float32, one epoch, batch 128, shuffle")
    ds = TensorDataset(cr.from_numpy(x), cr.from_numpy(y))
    ours = DataLoader(ds, batch_size=128, shuffle=True, generator=cr.Generator().manual_seed(0))
    t_ours = best_of(lambda: epoch(ours))
    t_mnist = best_of(lambda: epoch(DataLoader(mnist, batch_size=128, shuffle=True)))
    print(f"  chainrule DataLoader(TensorDataset)  {t_ours * 1e3:8.1f} ms")
    print(f"  chainrule DataLoader(MNIST)          {t_mnist * 1e3:8.1f} ms")
    try:
        import torch

        torch.set_num_threads(1)
        tds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        theirs = torch.utils.data.DataLoader(tds, batch_size=128, shuffle=True)
        t_torch = best_of(lambda: epoch(theirs))
        print(f"  torch DataLoader(TensorDataset)      {t_torch * 1e3:8.1f} ms")
        print(f"  speed-up vs torch: {t_torch / t_ours:.1f}x")
    except ImportError:
        print("  torch not installed: no comparison")

    files = sorted(glob.glob(str(ROOT / "data" / "fsdd" / "recordings" / "*.wav")))
    waves = np.stack([audio.pad_or_crop(audio.read_wav(f)[0], 8000) for f in files])
    audio.log_mel_spectrogram(waves[:10])
    t_mel = best_of(lambda: audio.log_mel_spectrogram(waves))
    t_read = best_of(lambda: [audio.read_wav(f) for f in files], repeats=1)
    print(f"FSDD: {len(files)} recordings, 1 s at 8 kHz")
    print(f"  read WAVs   {t_read * 1e3:8.1f} ms")
    print(f"  log-mel     {t_mel * 1e3:8.1f} ms  ({len(files) / t_mel:,.0f} recordings/s)")


if __name__ == "__main__":
    main()
