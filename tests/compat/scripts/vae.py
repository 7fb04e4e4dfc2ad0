#!/usr/bin/env python
# ruff: noqa: B007 - written the way the original example is (the loop variable is read after the loop)
"""A variational auto-encoder on small binary images (after pytorch/examples/vae).

Idioms: torch.randn_like, torch.exp(0.5 * logvar), F.binary_cross_entropy(reduction='sum'),
the KL term with .pow(2) and .exp(), train_loss += loss.item(), DataLoader over TensorDataset,
sampling from the prior under torch.no_grad().
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

SIDE = 8


def make_data(n, seed):
    """Binary 8×8 images: one of four bar patterns with a few flipped pixels."""
    rs = np.random.RandomState(seed)
    protos = np.zeros((4, SIDE, SIDE), np.float32)
    protos[0, 2:4, :] = 1
    protos[1, :, 5:7] = 1
    protos[2, np.arange(SIDE), np.arange(SIDE)] = 1
    protos[3, 5:7, 1:7] = 1
    x = protos[rs.randint(0, 4, n)]
    flip = rs.rand(*x.shape) < 0.03
    return np.where(flip, 1 - x, x).reshape(n, 1, SIDE, SIDE)


class VAE(nn.Module):
    def __init__(self, d=SIDE * SIDE, hidden=64, z=4):
        super().__init__()
        self.d = d
        self.fc1 = nn.Linear(d, hidden)
        self.fc21 = nn.Linear(hidden, z)
        self.fc22 = nn.Linear(hidden, z)
        self.fc3 = nn.Linear(z, hidden)
        self.fc4 = nn.Linear(hidden, d)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, self.d))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, SIDE * SIDE), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main(argv=None):
    parser = argparse.ArgumentParser(description="VAE example")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N")
    parser.add_argument("--epochs", type=int, default=4, metavar="N")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")

    train = torch.utils.data.TensorDataset(torch.from_numpy(make_data(640, 0)))
    test = torch.utils.data.TensorDataset(torch.from_numpy(make_data(128, 1)))
    train_loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=args.batch_size, shuffle=False)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss = 0
        for batch_idx, (data,) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        avg = train_loss / len(train_loader.dataset)
        print(f"====> Epoch: {epoch} Average loss: {avg:.4f}")
        losses.append(avg)

        model.eval()
        test_loss = 0
        with torch.no_grad():
            for i, (data,) in enumerate(test_loader):
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                if i == 0:
                    n = min(data.size(0), 8)
                    comparison = torch.cat(
                        [data[:n], recon_batch.view(args.batch_size, 1, SIDE, SIDE)[:n]]
                    )
                    assert comparison.shape == (2 * n, 1, SIDE, SIDE)
        test_loss /= len(test_loader.dataset)
        print(f"====> Test set loss: {test_loss:.4f}")
        with torch.no_grad():
            sample = torch.randn(16, 4).to(device)
            sample = model.decode(sample).cpu()
            assert sample.shape == (16, SIDE * SIDE) and sample.min() >= 0 and sample.max() <= 1
    return {"losses": losses, "test_loss": test_loss}


if __name__ == "__main__":
    main()
