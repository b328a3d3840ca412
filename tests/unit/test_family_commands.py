"""Commands a family contributes to ``tdw`` (``Family.commands``): added beside the core
ones, run against the chosen store, analyses left to the CLI, clashes refused."""

from __future__ import annotations

import dataclasses

import pytest

from tdw.cli import family_commands
from tdw.cli.main import main
from tdw.family.commands import Command, CommandResult
from tdw.family.registry import families, get_family


def _family(name: str, *commands: Command):
    return dataclasses.replace(get_family("modulo_addition_1l"), name=name, commands=commands)


@pytest.fixture
def registered(monkeypatch):
    """Make ``tdw`` see the built-ins plus the families a test passes."""
    def register(*extra):
        known = {**families(), **{f.name: f for f in extra}}
        monkeypatch.setattr(family_commands, "families", lambda: known)
    return register


def _greet(calls: list, result: CommandResult) -> Command:
    def add_arguments(parser):
        parser.add_argument("who")

    def run(args, store):
        calls.append((args.who, store.root))
        return result

    return Command("greet", "say hello to a variant", add_arguments, run,
                   epilog="example:\n  tdw greet p59")


def test_a_family_command_runs_on_the_chosen_store(registered, tmp_path, capsys):
    calls: list = []
    registered(_family("greeter", _greet(calls, CommandResult(status=3))))
    assert main(["--store", str(tmp_path / "s"), "greet", "world"]) == 3
    assert calls == [("world", (tmp_path / "s").resolve())]
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "greet" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["greet", "--help"])
    assert "example:\n  tdw greet p59" in capsys.readouterr().out  # printed as written


def test_the_cli_analyses_what_a_command_asks_for_and_stops_at_the_first_failure(
        registered, monkeypatch, tmp_path):
    analysed: list = []

    def analyse(store, variant):
        analysed.append(variant)
        return 1 if variant == "b" else 0

    monkeypatch.setattr(family_commands, "analyse", analyse)
    registered(_family("greeter", _greet([], CommandResult(analyze=("a", "b", "c")))))
    assert main(["--store", str(tmp_path), "greet", "x"]) == 1
    assert analysed == ["a", "b"]


def test_a_failed_command_analyses_nothing(registered, monkeypatch, tmp_path):
    monkeypatch.setattr(family_commands, "analyse", lambda store, v: pytest.fail("analysed"))
    registered(_family("greeter", _greet([], CommandResult(status=2, analyze=("a",)))))
    assert main(["--store", str(tmp_path), "greet", "x"]) == 2


def test_a_command_named_like_a_core_command_is_refused(registered, capsys):
    clash = dataclasses.replace(_greet([], CommandResult()), name="jobs")
    registered(_family("greeter", clash))
    assert main(["families"]) == 2
    err = capsys.readouterr().err
    assert "family greeter adds a command 'jobs'" in err and "core command" in err


def test_two_families_cannot_add_the_same_command(registered, capsys):
    registered(_family("one", _greet([], CommandResult())),
               _family("two", _greet([], CommandResult())))
    assert main(["families"]) == 2
    err = capsys.readouterr().err
    assert "greet" in err and "one" in err and "two" in err and "rename" in err


@pytest.mark.parametrize("name", ["Greet", "1greet", "greet me", "", "-greet"])
def test_a_command_name_must_be_a_plain_word(name):
    with pytest.raises(ValueError, match="lower-case letters"):
        Command(name, "help", lambda p: None, lambda a, s: CommandResult())


def test_tdw_import_comes_from_the_checkpoint_series_family():
    (command,) = get_family("checkpoint_series").commands
    assert command.name == "import"
