"""Tiny Shakespeare language models end to end on a small budget: the real text, word level
(top-10k vocabulary + <unk>) and char level through the CLI, truncated BPTT with carried state,
generation with temperature / top-k, unknown prompt words, and a checkpoint of another task."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.data.datasets import TinyShakespeare, batchify, get_batch
from chainrule.models.text import LSTMLanguageModel, generate


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("word")
    code = main(["train", "--task", "shakespeare", "--model", "word-lstm", "--epochs", "2",
                 "--limit", "48", "--seq-len", "16", "--batch-size", "8", "--lr", "0.005",
                 "--no-progress", "--no-plot", "--out", str(out)])  # fmt: skip
    assert code == 0
    return out


def losses(out):
    lines = (out / "history.csv").read_text().splitlines()
    col = lines[0].split(",").index("loss")
    return [float(row.split(",")[col]) for row in lines[1:]]


def test_word_vocabulary_on_the_real_text():
    ds = TinyShakespeare(level="word", max_size=10_000, seq_len=35, val_fraction=0.1,
                         test_fraction=0.05)  # fmt: skip
    vocab = ds.vocab
    assert len(vocab) == 10_000 and vocab.itos[0] == "<unk>"
    assert {"the", "to", "be", "or"} <= set(vocab.itos)
    ids = vocab.encode("to be or qwertyuiopword")
    assert ids[-1] == vocab.unk_index and vocab.unk_index not in ids[:3]
    valid = ds.corpus.valid.numpy()
    # rare words of held-out text (and words glued to punctuation) map to <unk>
    assert 0 < (valid == vocab.unk_index).mean() < 0.2


def test_word_lstm_through_the_cli(word_run):
    run = json.loads((word_run / "run.json").read_text())
    assert run["model_name"] == "word-lstm" and len(run["vocab"]["tokens"]) == 10_000
    seen = losses(word_run)
    assert seen[-1] < seen[0]
    # chance is 1e-4 over 10k words; even a few steps learn the frequent tokens
    assert run["test"]["accuracy"] > 0.02
    assert np.isfinite(run["test"]["perplexity"]) and run["test"]["perplexity"] < 10_000


def test_predict_generates_from_a_prompt_with_unknown_words(word_run, capsys):
    ckpt = str(word_run / "checkpoint.safetensors")
    capsys.readouterr()
    code = main(["predict", ckpt, "--task", "shakespeare", "--prompt", "to be or zqxjkv",
                 "--length", "12", "--temperature", "0.7", "--top-k", "20"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert text.startswith("to be or zqxjkv") and len(text.split()) > 4


def test_checkpoint_of_another_task_is_refused_naming_it(word_run, capsys):
    ckpt = str(word_run / "checkpoint.safetensors")
    with pytest.raises(SystemExit) as info:
        main(["predict", ckpt, "--task", "mnist"])
    message = str(info.value.code) + capsys.readouterr().err
    assert "'shakespeare'" in message and "'mnist'" in message
    with pytest.raises(SystemExit) as info:
        main(["evaluate", ckpt, "--task", "spoken-digits"])
    assert "'shakespeare'" in str(info.value.code) + capsys.readouterr().err


def test_char_lstm_through_the_cli(tmp_path, capsys):
    code = main(["train", "--task", "shakespeare", "--model", "char-lstm", "--epochs", "2",
                 "--limit", "48", "--seq-len", "32", "--batch-size", "8", "--lr", "0.01",
                 "--no-progress", "--no-plot", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["vocab"]["level"] == "char"
    seen = losses(tmp_path)
    assert seen[-1] < seen[0]
    assert run["test"]["accuracy"] > 3 / len(run["vocab"]["tokens"])
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "checkpoint.safetensors"), "--prompt", "ROMEO:",
                 "--length", "30"]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("ROMEO:")
    with pytest.raises(SystemExit) as info:  # no <unk> at char level: a clear error
        main(["predict", str(tmp_path / "checkpoint.safetensors"), "--prompt", "Ωmega"])
    assert info.value.code == 1 and "['Ω']" in capsys.readouterr().err


def test_truncated_bptt_with_carried_state_and_sampling():
    ds = TinyShakespeare(level="word", max_size=2000, seq_len=20)
    source = batchify(ds.corpus.train[:6000], 10)
    cr.manual_seed(0)
    model = LSTMLanguageModel(len(ds.vocab), embed_dim=32, hidden_size=32, dropout=0.0,
                              tie_weights=True)  # fmt: skip
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    state, seen = None, []
    for i in range(0, 20 * 15, 20):
        x, y = get_batch(source, i, bptt=20)  # (T, N) rows: time-major like the torch example
        x = x.t()
        if state is not None:
            state = tuple(s.detach() for s in state)  # truncate: no gradient into the past
        out, state = model.lstm(model.embedding(x), state)
        logits = model.decoder(out)  # (N, T, V)
        loss = loss_fn(logits.reshape(-1, len(ds.vocab)), y.reshape(x.shape[1], -1).t().reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen.append(float(loss))
    assert np.mean(seen[-3:]) < np.mean(seen[:3])
    greedy = [generate(model, ds.vocab, "to be", 6, top_k=1, seed=s) for s in (0, 1)]
    assert greedy[0] == greedy[1]  # top-k 1 is greedy: the seed does not matter
    hot = generate(model, ds.vocab, "to be", 6, temperature=5.0, seed=0)
    assert hot.startswith("to be") and len(hot.split()) >= 3
    with pytest.raises(ValueError, match="temperature"):
        generate(model, ds.vocab, "to be", 3, temperature=0.0)
