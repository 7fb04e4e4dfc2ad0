#!/usr/bin/env python
"""Variable-length sequence classification with packed sequences (the classic "sentiment with a
bidirectional LSTM" tutorial, on synthetic data).

Idioms: pad_sequence(batch_first=True), pack_padded_sequence(..., enforce_sorted=False) with
lengths on the CPU, a bidirectional 2-layer LSTM, torch.cat((hidden[-2], hidden[-1]), dim=1),
pad_packed_sequence, BCEWithLogitsLoss, torch.round(torch.sigmoid(x)), a custom collate_fn.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

VOCAB, PAD = 20, 0


class SeqData(Dataset):
    """Label 1 iff token 7 occurs more often than token 9 (lengths 3..12)."""

    def __init__(self, n, seed):
        rs = np.random.RandomState(seed)
        self.items = []
        for _ in range(n):
            length = rs.randint(3, 13)
            toks = rs.randint(1, VOCAB, length)
            label = float((toks == 7).sum() > (toks == 9).sum())
            self.items.append((toks, label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        toks, label = self.items[i]
        return torch.tensor(toks, dtype=torch.long), torch.tensor(label)


def collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    return pad_sequence(seqs, batch_first=True, padding_value=PAD), lengths, torch.stack(labels)


class Classifier(nn.Module):
    def __init__(self, emb=16, hidden=24):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, emb, padding_idx=PAD)
        self.rnn = nn.LSTM(emb, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(hidden * 2, 1)

    def forward(self, text, lengths):
        embedded = self.embedding(text)
        packed = pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        packed_output, (hidden, cell) = self.rnn(packed)
        output, output_lengths = pad_packed_sequence(packed_output, batch_first=True)
        assert output.shape[0] == text.shape[0] and output_lengths.tolist() == lengths.tolist()
        hidden = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        return self.fc(hidden).squeeze(1)


def binary_accuracy(preds, y):
    rounded_preds = torch.round(torch.sigmoid(preds))
    correct = (rounded_preds == y).float()
    return correct.sum() / len(correct)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    train_loader = DataLoader(SeqData(400, 0), batch_size=32, shuffle=True, collate_fn=collate)
    test_loader = DataLoader(SeqData(200, 1), batch_size=64, collate_fn=collate)
    model = Classifier()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.BCEWithLogitsLoss()
    losses = []
    for epoch in range(args.epochs):
        model.train()
        epoch_loss = 0.0
        for text, lengths, labels in train_loader:
            optimizer.zero_grad()
            predictions = model(text, lengths)
            loss = criterion(predictions, labels)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
        losses.append(epoch_loss / len(train_loader))
        print(f"epoch {epoch}: loss {losses[-1]:.4f}")
    model.eval()
    accs = []
    with torch.no_grad():
        for text, lengths, labels in test_loader:
            accs.append(binary_accuracy(model(text, lengths), labels).item())
    return {"losses": losses, "accuracy": float(np.mean(accs))}


if __name__ == "__main__":
    main()
