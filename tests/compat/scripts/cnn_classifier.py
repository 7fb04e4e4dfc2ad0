#!/usr/bin/env python
"""A small CNN on random (but learnable) images: the idioms of a typical training script.

nn.Sequential, functional calls, DataLoader/TensorDataset, StepLR, train()/eval(), no_grad
evaluation, accuracy via argmax(dim=1).eq(y).sum().item(), f-strings on 0-d tensors, .numpy()
after detach(), .to(device), nn.init, torch.cat/stack/zeros_like/arange.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((2, 2)),
        )
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(16 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def make_data(n, seed):
    """Each class is a bright bar in one quadrant plus noise (NumPy: same data in both runs)."""
    rs = np.random.RandomState(seed)
    y = rs.randint(0, 4, n)
    x = rs.randn(n, 1, 12, 12).astype(np.float32) * 0.5
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, 0, r * 6 + 2 : r * 6 + 4, col * 6 : col * 6 + 6] += 2.0
    return torch.from_numpy(x), torch.from_numpy(y).long()


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    total = torch.zeros(())
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(data)
        if batch_idx % args.log_interval == 0:
            print(
                f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}"
            )
    return total / len(train_loader.dataset)


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    all_preds = []
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
            all_preds.append(pred.squeeze(1))
    test_loss /= len(test_loader.dataset)
    preds = torch.cat(all_preds)
    assert preds.dtype == torch.long and preds.shape == (len(test_loader.dataset),)
    acc = correct / len(test_loader.dataset)
    print(
        f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(preds)} ({acc:.0%})\n"
    )
    return test_loss, acc


def main(argv=None):
    parser = argparse.ArgumentParser(description="CNN example")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--no-cuda", action="store_true", default=False)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=5)
    args = parser.parse_args(argv)
    use_cuda = not args.no_cuda and torch.cuda.is_available()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if use_cuda else "cpu")
    assert str(device) == "cpu" and device.type == "cpu"

    x_train, y_train = make_data(512, 0)
    x_test, y_test = make_data(128, 1)
    assert isinstance(x_train, torch.Tensor) and x_train.dtype == torch.float32
    train_loader = DataLoader(
        TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True
    )
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=64)

    model = Net().to(device)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    train_losses, test_losses, accs = [], [], []
    for epoch in range(1, args.epochs + 1):
        train_loss = train(args, model, device, train_loader, optimizer, epoch)
        print(
            f"epoch {epoch}: mean train loss {train_loss:.4f} lr {scheduler.get_last_lr()[0]:.4f}"
        )
        train_losses.append(float(train_loss))
        test_loss, acc = test(model, device, test_loader)
        test_losses.append(test_loss)
        accs.append(acc)
        scheduler.step()

    # a few more everyday idioms
    with torch.no_grad():
        logits = model(x_test[:8])
    probs = logits.exp().detach().cpu().numpy()
    assert probs.shape == (8, 4) and np.allclose(probs.sum(1), 1, atol=1e-5)
    weights = torch.stack([p.detach().norm() for p in model.parameters()])
    steps = torch.arange(len(weights))
    assert weights.shape == steps.shape == (len(list(model.parameters())),)
    assert torch.zeros_like(weights).sum().item() == 0
    assert (
        optimizer.param_groups[0]["lr"] == args.lr * args.gamma**args.epochs
        or abs(optimizer.param_groups[0]["lr"] - args.lr * args.gamma**args.epochs) < 1e-12
    )
    return {
        "train_losses": train_losses,
        "test_loss": test_losses[-1],
        "accuracy": accs[-1],
        "n_params": n_params,
    }


if __name__ == "__main__":
    main()
