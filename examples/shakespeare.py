"""Next-word prediction: a 2-layer LSTM language model on Tiny Shakespeare, word or char level.

    PYTHONPATH=. python examples/shakespeare.py                  # words: top 10k + <unk>
    PYTHONPATH=. python examples/shakespeare.py --level char --epochs 1
    PYTHONPATH=. python examples/shakespeare.py --max-steps 20   # a quick look

Truncated back-propagation through time as in PyTorch's word_language_model example: the text
is cut into ``batch`` parallel streams, the LSTM state is carried from one ``bptt``-token window
to the next but detached, so gradients flow back at most ``bptt`` steps. Prints validation
perplexity after every epoch and samples text with temperature and top-k.
(``chainrule train --task shakespeare --model word-lstm`` trains the same model with fit().)
"""

from __future__ import annotations

import argparse
import math
import time

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.datasets import TinyShakespeare, batchify, get_batch
from chainrule.models.text import LSTMLanguageModel, generate


def evaluate(model, source, bptt: int) -> float:
    """Perplexity of ``model`` on a batchified id tensor (state carried across windows)."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss()
    total, count, state = 0.0, 0, None
    with cr.no_grad():
        for i in range(0, source.shape[0] - 1, bptt):
            x, y = get_batch(source, i, bptt)  # x: (T, N) time-major, y: (T * N,)
            out, state = model.lstm(model.embedding(x.t()), state)
            logits = model.decoder(out).transpose(0, 1).reshape(-1, model.vocab_size)
            total += float(loss_fn(logits, y)) * len(y)
            count += len(y)
    return math.exp(total / count)


def main() -> None:
    """Train, report validation perplexity each epoch, then generate from a prompt."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--level", choices=["word", "char"], default="word")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--untied", action="store_true", help="separate decoder weights")
    parser.add_argument("--max-steps", type=int, help="stop each epoch after N windows")
    parser.add_argument("--prompt", default=None)
    args = parser.parse_args()

    word = args.level == "word"
    data = TinyShakespeare(level=args.level, max_size=10_000 if word else None, seq_len=args.bptt,
                           val_fraction=0.1, test_fraction=0.05)  # fmt: skip
    vocab = data.vocab
    train_src = batchify(data.corpus.train, args.batch)
    valid_src = batchify(data.corpus.valid, 10)
    print(f"{args.level} level: vocabulary {len(vocab)}, {len(data.corpus.train)} training tokens")

    cr.manual_seed(0)
    if word:
        model = LSTMLanguageModel(len(vocab), embed_dim=256, hidden_size=256, num_layers=2,
                                  dropout=0.3, tie_weights=not args.untied)  # fmt: skip
    else:
        model = LSTMLanguageModel(len(vocab), embed_dim=64, hidden_size=256, num_layers=2,
                                  dropout=0.1)  # fmt: skip
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        state, t0, tokens = None, time.perf_counter(), 0
        for step, i in enumerate(range(0, train_src.shape[0] - 1, args.bptt)):
            if args.max_steps is not None and step >= args.max_steps:
                break
            x, y = get_batch(train_src, i, args.bptt)
            if state is not None:
                state = tuple(s.detach() for s in state)  # truncate the history
            emb = model.dropout(model.embedding(x.t()))  # (N, T, E): batch_first LSTM
            out, state = model.lstm(emb, state)
            logits = model.decoder(model.dropout(out)).transpose(0, 1).reshape(-1, len(vocab))
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            tokens += len(y)
        rate = tokens / (time.perf_counter() - t0)
        ppl = evaluate(model, valid_src, args.bptt)
        print(f"epoch {epoch + 1}: validation perplexity {ppl:.1f} ({rate:.0f} tokens/s)")

    prompt = args.prompt or ("to be or" if word else "ROMEO:")
    for temperature, top_k in ((0.7, 40), (1.0, None)):
        text = generate(model, vocab, prompt, 40 if word else 200, temperature=temperature,
                        top_k=top_k, seed=0)  # fmt: skip
        print(f"\n--- temperature {temperature}, top-k {top_k}:\n{text}")


if __name__ == "__main__":
    main()
