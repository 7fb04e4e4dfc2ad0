"""LSTM language models (character or word level), their loss, and text generation."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn

__all__ = ["LSTMLanguageModel", "SequenceCrossEntropyLoss", "generate"]


class LSTMLanguageModel(nn.Module):
    """Embedding → multi-layer LSTM → dropout → linear decoder over the vocabulary.

    Input ``(N, T)`` token ids; output ``(N, T, vocab_size)`` logits for the next token at every
    position. ``tie_weights`` shares the embedding and decoder matrices (needs
    ``embed_dim == hidden_size``), as in the PyTorch word-language-model example.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(
                f"tie_weights needs embed_dim == hidden_size, got {embed_dim} and {hidden_size}"
            )
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(
            embed_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, x: Any, state: Any = None) -> Any:
        out, _ = self.lstm(self.dropout(self.embedding(x)), state)
        return self.decoder(self.dropout(out))

    def step(self, x: Any, state: Any = None) -> tuple[Any, Any]:
        """Logits for ``x`` and the LSTM state after it (for generation token by token)."""
        out, state = self.lstm(self.embedding(x), state)
        return self.decoder(out), state


class SequenceCrossEntropyLoss(nn.Module):
    """Cross-entropy of ``(N, T, V)`` logits against ``(N, T)`` targets, averaged over tokens."""

    def forward(self, output: Any, target: Any) -> Any:
        if output.ndim != 3 or tuple(output.shape[:2]) != tuple(target.shape):
            raise ValueError(
                f"SequenceCrossEntropyLoss: output shape {tuple(output.shape)} does not match "
                f"target shape {tuple(target.shape)}; expected (N, T, V) and (N, T)"
            )
        vocab = output.shape[-1]
        return nn.functional.cross_entropy(output.reshape(-1, vocab), target.reshape(-1))


def generate(
    model: LSTMLanguageModel,
    vocab: Any,
    prompt: str,
    length: int = 200,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> str:
    """Continue ``prompt`` by sampling ``length`` tokens from the model.

    ``temperature`` < 1 sharpens the distribution, > 1 flattens it; ``top_k`` samples only among
    the k most likely tokens. Unknown prompt words map to the vocabulary's unknown token.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    rng = np.random.default_rng(seed)
    try:
        ids = [int(i) for i in np.asarray(vocab.encode(prompt)).reshape(-1)]
    except KeyError as e:  # a character vocabulary has no unknown token to map them to
        unknown = sorted({c for c in prompt if c not in vocab})
        raise ValueError(
            f"generate: the prompt has characters outside the vocabulary: {unknown} "
            "(a character-level model has no unknown token)"
        ) from e
    if not ids:
        raise ValueError("generate: the prompt is empty")
    was_training = model.training
    model.eval()
    generated: list[int] = []
    try:
        with cr.no_grad():
            logits, state = model.step(cr.tensor([ids]))
            for _ in range(length):
                scores = logits.numpy()[0, -1].astype(np.float64) / temperature
                if top_k is not None and 0 < top_k < len(scores):
                    cutoff = np.partition(scores, -top_k)[-top_k]
                    scores = np.where(scores >= cutoff, scores, -np.inf)
                probs = np.exp(scores - scores.max())
                probs /= probs.sum()
                token = int(rng.choice(len(probs), p=probs))
                generated.append(token)
                logits, state = model.step(cr.tensor([[token]]), state)
    finally:
        model.train(was_training)
    sep = "" if getattr(vocab, "level", "char") == "char" else " "
    return prompt + sep + vocab.decode(generated)
