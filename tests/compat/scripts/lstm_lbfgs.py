#!/usr/bin/env python
"""Sine-wave prediction with two LSTMCells in float64, trained with LBFGS and a closure.

After pytorch/examples/time_sequence_prediction (smaller, so that it runs in a test).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


def make_data(n=20, length=60, period=20, seed=2):
    """Sine waves with random phase shifts (NumPy, so that both frameworks see the same data)."""
    rs = np.random.RandomState(seed)
    x = np.empty((n, length), np.int64)
    x[:] = np.arange(length) + rs.randint(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / 1.0 / period).astype("float64")


class Sequence(nn.Module):
    def __init__(self, hidden=24):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4, help="steps to run")
    parser.add_argument("--future", type=int, default=20)
    parser.add_argument("--strong-wolfe", action="store_true")
    args = parser.parse_args(argv)
    np.random.seed(0)
    torch.manual_seed(0)
    data = make_data()
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    seq = Sequence()
    seq.double()
    criterion = nn.MSELoss()
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(
        seq.parameters(),
        lr=0.8 if not args.strong_wolfe else 1,
        max_iter=10,
        line_search_fn="strong_wolfe" if args.strong_wolfe else None,
    )
    losses = []
    test_losses = []
    for i in range(args.steps):

        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        losses.append(loss.item())
        print(f"STEP: {i} loss: {loss.item():.6f}")
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            future = args.future
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print("test loss:", loss.item())
            y = pred.detach().numpy()
            test_losses.append(loss.item())
    assert y.shape == (3, test_input.shape[1] + args.future)
    assert y.dtype == np.float64
    return {"first_loss": losses[0], "loss": losses[-1], "test_loss": test_losses[-1]}


if __name__ == "__main__":
    main()
