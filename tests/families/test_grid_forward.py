"""Modulo Addition's table forward (``grid_forward.py``) against the bridge's own hooks."""

from __future__ import annotations

import pytest
import torch
from tdw.families.modulo_addition_1l import probe_loss
from tdw.families.modulo_addition_1l.grid_forward import HOOKS, grid_activations, grid_logits
from tdw.families.modulo_addition_1l.readout import answer_logits

from tdw.analysis.forward import shared_forward
from tdw.family.analyzer import LOGITS
from tdw.family.model import boot_model
from tdw.family.registry import get_family

FAMILY = get_family("modulo_addition_1l")


def _model(p: int, scale: float, seed: int = 0):
    """A model whose weights are redrawn at ``scale`` times their init: large scales make
    sharp attention (a trained model's), which a softmax written out must survive."""
    model = boot_model(FAMILY.model_config(FAMILY.resolve({"p": p})))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * scale)
    return model.eval()


def _bridge(model, probe):
    named = set(HOOKS) - {LOGITS}
    with torch.inference_mode():
        logits, cache = model.run_with_cache(probe["tokens"], names_filter=named.__contains__)
    return {**{h: cache[h] for h in named}, LOGITS: logits}


def _at_answer(hook: str, tensor: torch.Tensor) -> torch.Tensor:
    return tensor[:, :, -1] if hook.endswith("hook_pattern") else tensor[:, -1]


@pytest.mark.parametrize(("p", "scale"), [(7, 0.02), (23, 0.3), (23, 3.0)])
def test_every_hook_equals_the_bridge_at_the_answer_position(p, scale):
    model = _model(p, scale)
    probe = FAMILY.probe(FAMILY.resolve({"p": p}))
    ours = grid_activations(model, probe, HOOKS)
    theirs = _bridge(model, probe)
    assert set(ours) == HOOKS
    for hook in HOOKS:
        expected = _at_answer(hook, theirs[hook])
        got = ours[hook]
        # one position kept, the answer; the analyzers' index -1 reads it in both
        kept = (p * p, 4, 1, 3) if hook.endswith("hook_pattern") else \
            (p * p, 1, expected.shape[-1])
        assert got.shape == kept, hook
        assert torch.isfinite(got).all(), hook
        scale_of = expected.abs().max()
        assert (_at_answer(hook, got) - expected).abs().max() <= 1e-5 * scale_of, hook


def test_the_pattern_at_the_answer_is_a_distribution_even_for_huge_scores():
    model = _model(11, 30.0)  # attention scores in the hundreds: a naive exp overflows
    pattern = grid_activations(model, FAMILY.probe(FAMILY.resolve({"p": 11})),
                               {"blocks.0.attn.hook_pattern"})["blocks.0.attn.hook_pattern"]
    assert torch.isfinite(pattern).all()
    assert torch.allclose(pattern.sum(-1), torch.ones(()), atol=1e-6)


def test_grid_logits_and_the_probe_loss_equal_the_answer_position_readout():
    model = _model(23, 0.5, seed=3)
    probe = FAMILY.probe(FAMILY.resolve({"p": 23}))
    with torch.no_grad():
        readout = answer_logits(model, probe["tokens"])
        assert (grid_logits(model, 23) - readout).abs().max() <= 1e-5 * readout.abs().max()
        reference = torch.nn.functional.cross_entropy(readout.double(), probe["labels"])
        assert probe_loss(model, probe).item() == pytest.approx(reference.item(), rel=1e-6)


def test_it_declines_what_it_cannot_compute_and_the_engine_runs_the_bridge():
    model = _model(7, 0.5)
    probe = FAMILY.probe(FAMILY.resolve({"p": 7}))
    assert grid_activations(model, probe, {"blocks.0.attn.hook_q"}) is None
    shuffled = {**probe, "tokens": probe["tokens"].flip(0)}
    assert grid_activations(model, shuffled, {LOGITS}) is None
    with torch.inference_mode():
        # declined: the bridge's full tensors (three positions)
        assert shared_forward(FAMILY, model, shuffled, {LOGITS})[LOGITS].shape == (49, 3, 7)
        # computed: the answer position only
        assert shared_forward(FAMILY, model, probe, {LOGITS})[LOGITS].shape == (49, 1, 7)
        # a hook it lacks sends the whole pass to the bridge
        both = shared_forward(FAMILY, model, probe, {LOGITS, "blocks.0.attn.hook_q"})
        assert both[LOGITS].shape == (49, 3, 7)


def test_the_engine_analyses_a_variant_without_the_bridge_pass(tmp_path, monkeypatch):
    from transformer_lens.model_bridge import TransformerBridge

    from tdw.analysis.run import AnalysisRun
    from tdw.store.store import Store
    from tdw.training.run import TrainingRun

    store = Store(tmp_path / "store")
    vid = TrainingRun.prepare(family=FAMILY.name, params=dict(FAMILY.presets["tiny"]),
                              store=store, device="cpu").execute().variant

    def forbidden(*args, **kwargs):
        raise AssertionError("the engine ran the bridge although the family's forward "
                             "computes every hook")

    monkeypatch.setattr(TransformerBridge, "run_with_cache", forbidden)
    hooked = [a.name for a in FAMILY.analyzers if a.hooks]
    assert {"neuron_freq_clusters", "attention_patterns", "repr_geometry"} <= set(hooked)
    report = AnalysisRun.prepare(variant=vid, analyzers=hooked, store=store,
                                 workers=1, device="cpu").execute()
    assert report.computed == len(hooked) * len(store.checkpoints(vid))
