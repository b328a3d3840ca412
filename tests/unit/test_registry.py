from __future__ import annotations

import pytest

from tdw.errors import ParameterError, TdwError, UnknownNameError
from tdw.family.family import variant_id
from tdw.family.registry import families, get_family, register


def test_builtin_family_is_registered_with_typed_parameters():
    fam = get_family("modulo_addition_1l")
    assert "modulo_addition_1l" in families()
    names = [p.name for p in fam.params]
    assert names[:3] == ["p", "model_seed", "data_seed"]
    assert fam.resolve() == {"p": 113, "model_seed": 999, "data_seed": 598, "train_fraction": 0.3,
                             "n_epochs": 25_000, "lr": 1e-3, "weight_decay": 1.0,
                             "recipe": "tdw"}


def test_unknown_family_lists_known_ones():
    with pytest.raises(UnknownNameError, match="modulo_addition_1l"):
        get_family("modular_addition")


def test_unknown_preset_lists_known_ones():
    with pytest.raises(UnknownNameError, match="quick"):
        get_family("modulo_addition_1l").resolve(preset="fast")


def test_a_family_cannot_silently_replace_a_builtin():
    from dataclasses import replace

    impostor = replace(get_family("modulo_addition_1l"), title="Impostor")
    with pytest.raises(TdwError, match="clashes"):
        register(impostor, origin="entry point evil:FAMILY")
    assert get_family("modulo_addition_1l").title == "Modulo Addition 1-Layer"


def test_variant_ids_name_identity_parameters_and_hash_the_rest():
    fam = get_family("modulo_addition_1l")
    base = variant_id(fam, fam.resolve())
    assert base == "modulo_addition_1l/p113-ms999-ds598"
    tuned = variant_id(fam, fam.resolve({"lr": 3e-3}))
    assert tuned.startswith(base + "-") and tuned != variant_id(fam, fam.resolve({"lr": 2e-3}))
    assert "/" not in tuned.split("/", 1)[1]


def test_default_schedule_matches_the_canonical_windows():
    fam = get_family("modulo_addition_1l")
    assert fam.default_schedule(fam.resolve()) == (
        "0-1500/100,1500-9000/500,9000-13000/100,13000-25000/500,end")


def test_every_family_declares_a_tiny_variant():
    """The every-family test trains each family's ``tiny`` preset (or imports its
    ``tiny_variant``): a family without either would not be covered."""
    for name, fam in families().items():
        assert "tiny" in fam.presets or fam.tiny_variant is not None, \
            f"{name}: declare presets={{'tiny': {{...}}}} (a run of seconds on a CPU)"
        if fam.tiny_variant is None:
            fam.resolve(preset="tiny")  # resolves, and passes the family's check


def test_the_family_check_runs_whenever_parameters_are_resolved():
    fam = get_family("induction_heads")
    with pytest.raises(ParameterError, match=r"segment_length 17 .* n_ctx 32: set "
                                             r"segment_length <= 16"):
        fam.resolve({"segment_length": 17})
    with pytest.raises(ParameterError, match="batch_size 128 exceeds n_train 64"):
        fam.resolve({"batch_size": 128}, preset="tiny")
    assert fam.resolve({"segment_length": 16})["segment_length"] == 16


def test_a_preset_or_default_that_fails_the_check_is_refused_when_the_family_is_built():
    from dataclasses import replace

    fam = get_family("induction_heads")
    with pytest.raises(ParameterError, match="family induction_heads preset broken: "
                                             "segment_length 20"):
        replace(fam, presets={"broken": {"segment_length": 20}})

    def never(values):
        raise ParameterError("no values fit; nothing to fix")

    with pytest.raises(ParameterError, match="family induction_heads defaults: no values fit"):
        replace(fam, check=never)


def test_the_transition_must_be_a_cross_epoch_analyzer_of_the_family():
    from dataclasses import replace

    fam = get_family("modulo_addition_1l")
    assert fam.transition == "grokking_transition"
    with pytest.raises(ValueError, match=r"transition 'grokking_trun' is not one of its "
                                         r"cross_epoch analyzers \[.*'grokking_transition'"):
        replace(fam, transition="grokking_trun")
    # A per-checkpoint analyzer marks no transition either.
    with pytest.raises(ValueError, match="transition=None"):
        replace(fam, transition="progress_measures")
    assert replace(fam, transition=None).transition is None
    # so must the analyzer that tells a variant's story
    with pytest.raises(ValueError, match=r"story 'variant_storey' is not one of its "
                                         r"cross_epoch analyzers .*or pass story=None"):
        replace(fam, story="variant_storey")


def test_the_core_has_no_family_defaults():
    from tdw.family.family import Family

    fam = get_family("modulo_addition_1l")
    bare = Family(name="bare", title="Bare", description="", params=fam.params,
                  model_config=fam.model_config, dataset=fam.dataset, probe=fam.probe,
                  train_config=fam.train_config, default_schedule=fam.default_schedule)
    assert bare.transition is None and bare.check is None and bare.tiny_variant is None


def test_imported_steps_must_be_increasing_whole_numbers():
    fam = get_family("checkpoint_series")
    assert fam.resolve({"steps": "0,1000,2000"})["steps"] == "0,1000,2000"
    with pytest.raises(ParameterError, match="whole numbers separated by commas"):
        fam.resolve({"steps": "0,step1000"})
    with pytest.raises(ParameterError, match="must increase"):
        fam.resolve({"steps": "1000,0"})
