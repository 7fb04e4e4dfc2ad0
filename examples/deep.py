"""Deep networks: why a 20-layer sigmoid MLP does not train, and what fixes it.

    PYTHONPATH=. python examples/deep.py            # writes deep_gradients.png (matplotlib)

Both networks have 20 hidden layers of 64 units and are trained the same way (SGD with
momentum on the 8x8 digits). ``chainrule.diagnose.health`` measures the gradient reaching every
layer before training: for the sigmoid net it shrinks by ~4x per layer (sigmoid' <= 1/4) and is
flagged ``vanishing``; the remedy (ReLU, He initialisation, residual connections, BatchNorm)
keeps it flat. A GradientHealthMonitor follows the sigmoid net during training.
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.datasets import Digits
from chainrule.diagnose import GradientHealthMonitor, health
from chainrule.models.apps import DeepMLP


def train_sgd(model, x, y, epochs: int, monitor=None) -> list[float]:
    """Plain mini-batch SGD (momentum 0.9, lr 0.05); per-epoch mean loss."""
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    losses, step = [], 0
    for _ in range(epochs):
        model.train()
        perm, total = rng.permutation(len(x)), 0.0
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            loss = nn.functional.cross_entropy(model(cr.from_numpy(x[idx])), cr.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            if monitor is not None:
                monitor.on_backward(model, step, loss)
            opt.step()
            if monitor is not None:
                monitor.on_step(model, step)
            total, step = total + float(loss) * len(idx), step + 1
        losses.append(total / len(x))
    return losses


def main() -> None:
    """Health reports, training curves, test accuracy and the gradient-norm plot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--plot", default="deep_gradients.png")
    args = parser.parse_args()

    xtr, ytr = Digits(train=True).arrays()
    xte, yte = Digits(train=False).arrays()
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    batch = (cr.from_numpy(xtr[:256]), cr.from_numpy(ytr[:256]))
    norms = {}
    for style in ("plain-sigmoid", "residual"):
        cr.manual_seed(0)
        model = DeepMLP(depth=20, width=64, style=style)
        report = health(model, batch, nn.CrossEntropyLoss())
        print(f"\n=== {style}: {report.kinds}\n{report}")
        names, flow = report.flow_series()
        norms[style] = flow
        monitor = GradientHealthMonitor(model, every=5) if style == "plain-sigmoid" else None
        losses = train_sgd(model, xtr, ytr, args.epochs, monitor)
        if monitor is not None:
            monitor.detach()
            print(f"during training: {monitor.report().kinds}")
        model.eval()
        with cr.no_grad():
            acc = float((model(cr.from_numpy(xte)).numpy().argmax(1) == yte).mean())
        print(f"{style}: loss {losses[0]:.3f} -> {losses[-1]:.3f}, test accuracy {100 * acc:.1f}%")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(install matplotlib for the gradient-norm plot)")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for style, flow in norms.items():
        ax.semilogy(range(1, len(flow) + 1), np.maximum(flow, 1e-30), marker="o", label=style)
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("gradient reaching the layer")
    ax.set_title("20 hidden layers on the 8x8 digits, at initialisation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=100)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
