"""chainrule.models: every registered model builds and maps its task's input shape to logits."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import models
from chainrule.data.datasets import Vocab

INPUTS = {
    "digits": (2, 1, 8, 8),
    "mnist": (2, 1, 28, 28),
    "spoken-digits": (2, 40, 101),
}


@pytest.mark.parametrize(
    ("task", "name"), [(t, n) for t, names in models.MODELS.items() for n in names]
)
def test_every_model_builds_and_runs(task, name):
    if task == "shakespeare":
        model = models.get_model(task, name, vocab_size=30)
        x = cr.randint(0, 30, (2, 5))
        out = model(x)
        assert out.shape == (2, 5, 30)
        loss = models.SequenceCrossEntropyLoss()(out, cr.randint(0, 30, (2, 5)))
    else:
        model = models.get_model(task, name)
        out = model(cr.randn(*INPUTS[task]))
        assert out.shape == (2, 10)
        loss = cr.nn.CrossEntropyLoss()(out, cr.tensor([1, 2]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_unknown_task_and_model_list_valid_names():
    with pytest.raises(ValueError, match="unknown task 'cifar'.*digits, mnist"):
        models.get_model("cifar")
    with pytest.raises(ValueError, match="unknown model 'resnet'.*cnn, mlp"):
        models.get_model("digits", "resnet")
    assert models.available_models("spoken-digits") == ["gru", "cnn"]


def test_sequence_loss_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5, 30\).*\(2, 4\)"):
        models.SequenceCrossEntropyLoss()(cr.randn(2, 5, 30), cr.randint(0, 30, (2, 4)))


def test_generate_continues_the_prompt_and_maps_unknown_words():
    vocab = Vocab(["<unk>", "to", "be", "or", "not"], level="word")
    model = models.get_model("shakespeare", "word-lstm", vocab_size=len(vocab), embed_dim=8,
                             hidden_size=8)  # fmt: skip
    text = models.generate(model, vocab, "to be xyzzy", length=6, top_k=3, seed=0)
    words = text.split()
    assert words[:3] == ["to", "be", "xyzzy"] and len(words) == 9
    assert set(words[3:]) <= set(vocab.itos)
    again = models.generate(model, vocab, "to be xyzzy", length=6, top_k=3, seed=0)
    assert again == text
    with pytest.raises(ValueError, match="temperature"):
        models.generate(model, vocab, "to", temperature=0)


def test_tied_weights_share_the_embedding():
    model = models.get_model("shakespeare", "word-lstm", vocab_size=50)
    assert model.decoder.weight is model.embedding.weight
    names = [n for n, _ in model.named_parameters()]
    assert "decoder.weight" not in names and "embedding.weight" in names
    assert np.isfinite(model(cr.randint(0, 50, (1, 3))).detach().numpy()).all()
