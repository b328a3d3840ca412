"""The Modulo Addition family: its data, its probe, and its fast forward pass."""

from __future__ import annotations

import torch

from tdw.family.model import boot_model, live_tensors
from tdw.family.registry import get_family

FAMILY = get_family("modulo_addition_1l")


def _model_with_biases(values):
    model = boot_model(FAMILY.model_config(values))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # biases start at zero; make every term of the forward count
        for name, tensor in live_tensors(model).items():
            if name.endswith("bias"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
    return model


def test_fast_readout_equals_the_bridge_forward():
    values = FAMILY.resolve({"p": 13})
    model = _model_with_biases(values)
    tokens = FAMILY.probe(values)["tokens"]
    bridge = model(tokens)[:, -1, :]
    fast = FAMILY.readout(model, tokens)
    assert fast.shape == (13 * 13, 13)
    torch.testing.assert_close(fast, bridge, rtol=0, atol=2e-6)


def test_fast_readout_gradients_equal_the_bridge_gradients():
    values = FAMILY.resolve({"p": 7})
    model = _model_with_biases(values)
    data = FAMILY.dataset(values)

    def grads(logits_fn):
        model.zero_grad()
        torch.nn.functional.cross_entropy(logits_fn(data.train_tokens), data.train_labels
                                          ).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    slow = grads(lambda t: model(t)[:, -1, :])
    fast = grads(lambda t: FAMILY.readout(model, t))
    assert slow.keys() == fast.keys()
    for name in slow:
        torch.testing.assert_close(fast[name], slow[name], rtol=1e-4, atol=1e-6)


def test_split_is_seeded_disjoint_and_sized():
    values = FAMILY.resolve({"p": 11, "train_fraction": 0.3})
    data = FAMILY.dataset(values)
    assert len(data.train_labels) == round(0.3 * 121)
    assert len(data.train_labels) + len(data.test_labels) == 121
    train = {tuple(t.tolist()) for t in data.train_tokens}
    test = {tuple(t.tolist()) for t in data.test_tokens}
    assert not train & test
    again = FAMILY.dataset(values)
    assert torch.equal(again.train_tokens, data.train_tokens)
    other = FAMILY.dataset(FAMILY.resolve({"p": 11, "data_seed": 1}))
    assert not torch.equal(other.train_tokens, data.train_tokens)


def test_probe_is_the_full_grid_in_a_b_order():
    probe = FAMILY.probe(FAMILY.resolve({"p": 5}))
    tokens, labels = probe["tokens"], probe["labels"]
    assert tokens.shape == (25, 3)
    index = 3 * 5 + 4
    assert tokens[index].tolist() == [3, 4, 5]  # a=3, b=4, '=' is token p
    assert labels[index].item() == (3 + 4) % 5
    assert probe["is_train"].sum().item() == round(0.3 * 25)
