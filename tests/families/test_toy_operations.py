"""Toy Operations: the data against an independent computation, the fast readout against
the bridge, and every analyzer on planted signals whose answer is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tdw.families.toy_operations import (
    FAMILY,
    analyzers,
    attention,
    data,
    hooks,
    learning,
    model_config,
)
from tdw.families.toy_operations.readout import answer_logits

from tdw.family.analyzer import CheckpointInputs
from tdw.family.model import boot_model

VALUES = FAMILY.resolve()
ANALYZERS = {a.name: a for a in (*analyzers.ANALYZERS, *analyzers.CROSS_EPOCH)}
RULES = {"Max": max, "Min": min, "First": lambda d: d[0], "Second": lambda d: d[1],
         "Last": lambda d: d[2]}


# --- data -----------------------------------------------------------------------------


def test_every_input_reads_as_text_and_its_label_is_the_operation_applied():
    inputs = data.all_inputs()
    seen = set()
    for i, (tokens, label) in enumerate(zip(inputs["tokens"], inputs["labels"], strict=True)):
        op, open_, a, c1, b, c2, c, close = data.render(tokens).split(" ")
        assert (open_, c1, c2, close) == ("(", ",", ",", ")")
        digits = [int(a), int(b), int(c)]
        assert int(label) == RULES[op](digits)
        assert i == data.OPERATIONS.index(op) * 1000 + digits[0] * 100 + digits[1] * 10 + digits[2]
        seen.add((op, *digits))
    assert len(seen) == 5000
    assert data.render(inputs["tokens"][1162]) == "Min ( 1 , 6 , 2 )"
    assert int(inputs["labels"][162]) == 6  # Max ( 1 , 6 , 2 )


def _rows(tokens: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(row) for row in tokens.tolist()}


def test_split_is_seeded_stratified_and_disjoint():
    first, again = FAMILY.dataset(VALUES), FAMILY.dataset(VALUES)
    assert torch.equal(first.train_tokens, again.train_tokens)
    train, test = _rows(first.train_tokens), _rows(first.test_tokens)
    assert not train & test and len(train | test) == 5000
    ops = first.train_tokens[:, data.OPERATION_POSITION] - data.FIRST_OPERATION
    assert torch.bincount(ops).tolist() == [800] * 5  # train_fraction 0.8 of each operation
    other = FAMILY.dataset({**VALUES, "data_seed": 1})
    assert _rows(other.train_tokens) != train
    inputs = data.all_inputs()
    labels = dict(zip(map(tuple, inputs["tokens"].tolist()), inputs["labels"].tolist(),
                      strict=True))
    assert [labels[r] for r in map(tuple, first.test_tokens.tolist())] == \
        first.test_labels.tolist()


def test_probe_is_every_input_with_the_training_mask_and_is_deterministic():
    probe, again = FAMILY.probe(VALUES), FAMILY.probe(VALUES)
    assert probe.keys() == again.keys()
    assert all(torch.equal(probe[k], again[k]) for k in probe)
    assert torch.equal(probe["tokens"], data.all_inputs()["tokens"])
    trained = probe["tokens"][probe["is_train"].bool()]
    assert _rows(trained) == _rows(FAMILY.dataset(VALUES).train_tokens)


def test_fast_readout_equals_the_bridge_in_values_and_gradients():
    torch.manual_seed(0)
    model = boot_model(model_config({"model_seed": 3}))
    with torch.no_grad():  # move LayerNorm and biases away from their identity init
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    tokens = data.all_inputs()["tokens"][::97]
    reference = model(tokens)[:, data.ANSWER_POSITION]
    fast = answer_logits(model, tokens)
    torch.testing.assert_close(fast, reference, atol=2e-5, rtol=1e-5)
    grads = []
    for logits in (lambda: model(tokens)[:, -1], lambda: answer_logits(model, tokens)):
        model.zero_grad()
        logits().logsumexp(-1).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-4, rtol=1e-4)


# --- analyzers on planted signals -----------------------------------------------------


def test_attention_entropy_of_a_hand_made_pattern():
    pattern = np.zeros((2, 1, 3, 3))  # (input, head, query, key)
    pattern[:, 0, 0, 0] = 1.0  # one key: 0 bits
    pattern[:, 0, 1, :2] = 0.5  # two keys evenly: 1 bit
    pattern[0, 0, 2] = 1 / 3  # three keys evenly: log2(3) bits
    pattern[1, 0, 2] = (0.5, 0.25, 0.25)  # 1.5 bits
    entropy = attention.attention_entropy(pattern)
    np.testing.assert_allclose(entropy, [[0.0, 1.0, (math.log2(3) + 1.5) / 2]], atol=1e-12)


def test_attention_entropy_analyzer_reads_both_layers_head_by_head():
    n, n_ctx = 3, data.N_CTX
    uniform = torch.tril(torch.ones(n_ctx, n_ctx)) / torch.arange(1, n_ctx + 1)[:, None]
    one_hot = torch.zeros(n_ctx, n_ctx)
    one_hot[:, 0] = 1.0  # every query on the operation token
    layer0 = uniform.expand(n, 4, n_ctx, n_ctx)  # (input, head, query, key)
    layer1 = torch.stack([one_hot, uniform, one_hot, uniform]).expand(n, 4, n_ctx, n_ctx)
    inputs = CheckpointInputs(values=VALUES, epoch=0, weights={}, final_weights={}, probe={},
                              activations=dict(zip(hooks.PATTERNS, (layer0, layer1),
                                                   strict=True)))
    arrays, attrs = ANALYZERS["attention_entropy"].run(inputs)
    maximum = np.log2(np.arange(1, n_ctx + 1))
    np.testing.assert_allclose(arrays["max_entropy"], maximum, rtol=1e-6)
    np.testing.assert_allclose(arrays["entropy"][:4], np.tile(maximum, (4, 1)), atol=1e-5)
    np.testing.assert_allclose(arrays["entropy"][[4, 6]], 0.0, atol=1e-6)
    np.testing.assert_allclose(arrays["entropy"][[5, 7]], np.tile(maximum, (2, 1)), atol=1e-5)
    assert attrs["heads"][4] == "L1H0"
    assert attrs["answer_entropy_by_layer"] == pytest.approx([3.0, 1.5])
    np.testing.assert_allclose(arrays["mean_pattern"][4], one_hot.numpy())


def test_per_operation_accuracy_and_loss_by_hand():
    operation = np.array([0, 0, 0, 1, 1, 4])
    labels = np.array([3, 5, 7, 0, 2, 9])
    logits = np.zeros((6, 10))
    logits[0, 3] = logits[1, 5] = logits[3, 0] = 2.0  # right
    logits[2, 1] = logits[4, 9] = logits[5, 0] = 2.0  # wrong
    selected = np.array([True, True, True, True, False, True])
    accuracy, loss = learning.per_operation_accuracy(logits, labels, operation, selected)
    np.testing.assert_allclose(accuracy, [2 / 3, 1.0, np.nan, np.nan, 0.0])
    right = -math.log(math.e ** 2 / (math.e ** 2 + 9))  # the label got the 2.0
    wrong = -math.log(1 / (math.e ** 2 + 9))
    np.testing.assert_allclose(loss, [(2 * right + wrong) / 3, right, np.nan, np.nan, wrong])


def test_argument_attention_finds_the_answer_selecting_head():
    probe = data.all_inputs()
    operation, args, labels = (probe[k].numpy() for k in ("operation", "args", "labels"))
    n = len(labels)
    from_answer = np.zeros((n, 2, data.N_CTX))  # head 0 selects the answer, head 1 is uniform
    first_holder = (args == labels[:, None]).argmax(-1)  # (input,)
    from_answer[np.arange(n), 0, np.asarray(data.ARGUMENT_POSITIONS)[first_holder]] = 1.0
    from_answer[:, 1] = 1 / data.N_CTX
    to_arguments, to_answer, to_operation = attention.argument_attention(
        from_answer, operation, args, labels)
    np.testing.assert_allclose(to_answer[0], 1.0)
    holders = (args == labels[:, None]).sum(-1)  # (input,)
    for op in range(5):
        expected = holders[operation == op].mean() / data.N_CTX
        assert to_answer[1, op] == pytest.approx(expected)
    np.testing.assert_allclose(to_arguments[0, 2], [1, 0, 0])  # First: always the first digit
    np.testing.assert_allclose(to_arguments[1], 1 / data.N_CTX)
    np.testing.assert_allclose(to_operation, [[0] * 5, [1 / data.N_CTX] * 5])


def _planted_embedding(order: list[int]) -> dict[str, torch.Tensor]:
    """Digits on a line in ``order`` (with a little orthogonal noise), operations apart."""
    rng = np.random.default_rng(0)
    w_e = np.zeros((len(data.VOCAB), 16))
    for position, digit in enumerate(order):
        w_e[digit, 0] = 3.0 * position - 10.0
        w_e[digit, 1:4] = 0.01 * rng.standard_normal(3)
    ops = data.FIRST_OPERATION
    w_e[ops, 5] = w_e[ops + 1, 5] = 1.0  # Max and Min identical
    w_e[ops + 2, 6] = w_e[ops + 3, 6] = 1.0  # First and Second identical, orthogonal to Max
    w_e[ops + 3, 7] = 1.0
    w_e[ops + 4, 6] = -1.0  # Last opposite to First
    return {"embed.weight": torch.tensor(w_e, dtype=torch.float32)}


def _geometry(weights):
    inputs = CheckpointInputs(values=VALUES, epoch=0, weights=weights, final_weights=weights,
                              probe={})
    return ANALYZERS["embedding_geometry"].run(inputs)


def test_embedding_geometry_orders_planted_digits_and_compares_operations():
    arrays, attrs = _geometry(_planted_embedding(list(range(10))))
    assert attrs["digit_order"] == pytest.approx(1.0)
    assert np.all(np.diff(arrays["digit_pc1"]) > 0)
    assert attrs["digit_pc1_share"] > 0.999
    cos = arrays["operation_cosine"]
    assert cos[0, 1] == pytest.approx(1.0) and cos[0, 2] == pytest.approx(0.0)
    assert cos[2, 3] == pytest.approx(1 / math.sqrt(2)) and cos[2, 4] == pytest.approx(-1.0)
    # Reversed along the line: PCA's sign is fixed by 9 scoring above 0, so still in order.
    reversed_attrs = _geometry(_planted_embedding(list(range(9, -1, -1))))[1]
    assert reversed_attrs["digit_order"] == pytest.approx(1.0)
    # 3 and 4 swapped: Spearman 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 12 / 990.
    swapped = _geometry(_planted_embedding([0, 1, 2, 4, 3, 5, 6, 7, 8, 9]))[1]
    assert swapped["digit_order"] == pytest.approx(1 - 12 / 990)


def _eta_by_hand(x: np.ndarray, groups: np.ndarray) -> float:
    """Between-group over total sum of squares, one group at a time."""
    between = sum((groups == g).sum() * (x[groups == g].mean() - x.mean()) ** 2
                  for g in np.unique(groups))
    return float(between / ((x - x.mean()) ** 2).sum())


def test_neuron_selectivity_on_planted_activations():
    probe = data.all_inputs()
    operation, labels = probe["operation"].numpy(), probe["labels"].numpy()
    noise = np.random.default_rng(0).standard_normal(len(labels))
    neurons = np.stack([operation, labels, noise, np.where(operation == 0, labels, 0),
                        np.zeros(len(labels))], axis=-1).astype(np.float64)  # last one dead
    post = torch.zeros(len(labels), data.N_CTX, neurons.shape[1], dtype=torch.float64)
    post[:, data.ANSWER_POSITION] = torch.from_numpy(neurons)
    post[:, 2] = 100 * torch.rand(post[:, 2].shape, dtype=torch.float64)  # never read
    inputs = CheckpointInputs(values=VALUES, epoch=0, weights={}, final_weights={},
                              probe={**probe, "is_train": torch.ones(5000, dtype=torch.uint8)},
                              activations={name: post for name in hooks.MLP_POSTS})
    arrays, attrs = ANALYZERS["neuron_selectivity"].run(inputs)
    op_share, answer_share = arrays["operation_share"][0], arrays["answer_share"][0]
    assert op_share[0] == pytest.approx(1.0) and answer_share[1] == pytest.approx(1.0)
    assert arrays["answer_correlation"][0, 1] == pytest.approx(1.0)
    assert op_share[2] < 0.01 and answer_share[2] < 0.01  # noise: about (groups - 1) / 5000
    assert op_share[4] == answer_share[4] == arrays["answer_correlation"][0, 4] == 0.0
    live = range(4)
    by_hand_op = [_eta_by_hand(neurons[:, i], operation) for i in live]
    by_hand_answer = [_eta_by_hand(neurons[:, i], labels) for i in live]
    np.testing.assert_allclose(op_share[:4], by_hand_op, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(answer_share[:4], by_hand_answer, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(arrays["operation_means"][0, 0], [0, 1, 2, 3, 4], atol=1e-6)
    magnitude = [abs(np.corrcoef(neurons[:, i], labels)[0, 1]) for i in live]
    expected = {name: [sum(v >= 0.5 for v in values)] * 2 for name, values in (
        ("operation", by_hand_op), ("answer", by_hand_answer), ("magnitude", magnitude))}
    assert attrs["selective"] == expected


def test_learned_epochs_need_the_accuracy_to_stay_above_the_threshold():
    epochs = np.array([0, 10, 20, 30, 40])
    accuracy = np.array([[0.1, 0.1, 0.1], [0.5, 0.95, 0.2], [0.92, 0.95, 0.3],
                         [0.95, 0.7, 0.9], [0.99, 0.91, np.nan]])
    np.testing.assert_array_equal(learning.learned_epochs(epochs, accuracy), [20, 40, -1])


def test_operation_learning_names_the_first_operation_and_ties():
    from tdw.family.analyzer import CrossEpochInputs
    from tdw.family.artifacts import Artifact

    schema = ANALYZERS["operation_accuracy"].schema
    rows = [[0.2, 0.1, 0.1, 0.1, 0.1], [0.95, 0.5, 0.95, 0.2, 0.1],
            [0.96, 0.93, 0.97, 0.2, 0.95]]  # Max and First at 10, then Min and Last
    artifacts = [Artifact(schema, e, {"test_accuracy": np.array(r, np.float32)})
                 for e, r in zip((0, 10, 20), rows, strict=True)]
    inputs = CrossEpochInputs(VALUES, np.array([0, 10, 20]),
                              {"operation_accuracy": artifacts}, {})
    arrays, attrs = ANALYZERS["operation_learning"].run(inputs)
    np.testing.assert_array_equal(arrays["learned_epoch"], [10, 20, 10, -1, 20])
    assert attrs["first"] == "Max = First"
    assert attrs["order"] == ["Max", "First", "Min", "Last"]


def test_family_is_registered_with_a_quick_preset():
    from tdw.family.family import variant_id
    from tdw.family.registry import get_family

    family = get_family("toy_operations")
    assert family is FAMILY
    quick = family.resolve(preset="quick")
    assert variant_id(family, quick).startswith("toy_operations/ms0-ds0-")
    assert family.default_schedule(VALUES) == "0-50/1,end"


def test_flatness_loss_reads_every_fifth_probe_input():
    from tdw.library.weights import readout_cross_entropy

    probe = FAMILY.probe(VALUES)

    def readout(model, tokens):  # logits favouring the first digit: right only for First
        return 3.0 * torch.nn.functional.one_hot(tokens[:, 2], 10).double()

    loss = float(readout_cross_entropy(readout, every=5)(None, probe))
    rows = range(0, 5000, 5)
    right = -math.log(math.e ** 3 / (math.e ** 3 + 9))
    wrong = -math.log(1 / (math.e ** 3 + 9))
    expected = np.mean([right if int(probe["args"][i, 0]) == int(probe["labels"][i]) else wrong
                        for i in rows])
    assert loss == pytest.approx(expected)
    with pytest.raises(ValueError, match="positive stride"):
        readout_cross_entropy(readout, every=0)
