from __future__ import annotations

import pytest

from tdw.errors import TdwError, UnknownNameError
from tdw.family.family import variant_id
from tdw.family.registry import families, get_family, register


def test_builtin_family_is_registered_with_typed_parameters():
    fam = get_family("modulo_addition_1l")
    assert "modulo_addition_1l" in families()
    names = [p.name for p in fam.params]
    assert names[:3] == ["p", "model_seed", "data_seed"]
    assert fam.resolve() == {"p": 113, "model_seed": 999, "data_seed": 598, "train_fraction": 0.3,
                             "n_epochs": 25_000, "lr": 1e-3, "weight_decay": 1.0}


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
