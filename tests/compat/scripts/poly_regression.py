#!/usr/bin/env python
"""Polynomial regression with manual SGD through ``.data`` (after pytorch/examples/regression)."""

from __future__ import annotations

import argparse
from itertools import count

import torch
import torch.nn.functional as F

POLY_DEGREE = 4


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = "y = "
    for i, w in enumerate(W):
        result += f"{w:+.2f} x^{i + 1} "
    result += f"{b[0]:+.2f}"
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="polynomial regression")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    W_target = torch.randn(POLY_DEGREE, 1) * 5
    b_target = torch.randn(1) * 5

    def f(x):
        """Approximated function."""
        return x.mm(W_target) + b_target.item()

    def get_batch(batch_size=args.batch_size):
        """Builds a batch i.e. (x, f(x)) pair."""
        random = torch.randn(batch_size)
        x = make_features(random)
        y = f(x)
        return x, y

    fc = torch.nn.Linear(W_target.size(0), 1)
    losses = []
    for batch_idx in count(1):
        batch_x, batch_y = get_batch()
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        losses.append(loss)
        output.backward()
        for param in fc.parameters():
            param.data.add_(param.grad, alpha=-args.lr)
        # an old idiom: zero the gradient in place (fc.zero_grad() sets it to None next time)
        for param in fc.parameters():
            param.grad.data.zero_()
        if loss < 1e-3 or batch_idx >= args.max_steps:
            break

    desc_learned = poly_desc(fc.weight.view(-1), fc.bias)
    desc_actual = poly_desc(W_target.view(-1), b_target)
    print(f"Loss: {loss:.6f} after {batch_idx} batches")
    print("==> Learned function:\t" + desc_learned)
    print("==> Actual function:\t" + desc_actual)
    err = (fc.weight.data.view(-1) - W_target.view(-1)).abs().max().item()
    return {
        "first_loss": losses[0],
        "loss": loss,
        "steps": batch_idx,
        "max_weight_error": err,
        "desc": desc_learned,
    }


if __name__ == "__main__":
    main()
