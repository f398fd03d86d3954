"""Every command's --help: a help line for every option, and its default."""

from __future__ import annotations

import argparse
import importlib
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
SCRIPTS = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]


class _Parsed(Exception):
    """Raised instead of parsing, carrying the command's parser."""


def _parser_of(entry_point: str, monkeypatch: pytest.MonkeyPatch):
    module, func = entry_point.split(":")
    main = getattr(importlib.import_module(module), func)

    def grab(self: argparse.ArgumentParser, *args: object, **kw: object):
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", grab)
    with pytest.raises(_Parsed) as caught:
        main([])
    return caught.value.args[0]


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_every_option_has_help_and_shows_its_default(command, monkeypatch):
    parser = _parser_of(SCRIPTS[command], monkeypatch)
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{command}: {name} has no help line"
        shown = action.default not in (None, False, argparse.SUPPRESS)
        expanded = parser._get_formatter()._expand_help(action)
        if action.option_strings and shown:
            assert "default" in expanded, (
                f"{command}: {name} does not show its default"
            )
        elif action.option_strings:  # None and a flag's False say nothing
            assert "(default: None)" not in expanded, f"{command}: {name}"
            assert "(default: False)" not in expanded, f"{command}: {name}"
    assert "/work/" not in text and str(Path.home()) + "/" not in text, (
        f"{command}: --help shows an absolute path"
    )


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_usage_names_the_command_as_it_was_run(command, monkeypatch):
    """The console script's usage line shows its own name, the module's
    ``python -m`` form otherwise."""
    module = SCRIPTS[command].split(":")[0]
    monkeypatch.setattr("sys.argv", [f"/venv/bin/{command}"])
    assert _parser_of(SCRIPTS[command], monkeypatch).prog == command
    monkeypatch.setattr("sys.argv", ["/repo/hydrax/__main__.py"])
    prog = _parser_of(SCRIPTS[command], monkeypatch).prog
    assert prog.startswith("python -m hydrax.")
    if command != "hydrax-closed-loop":  # compare's main runs closed_loop
        assert prog == f"python -m {module}"
    parser = _parser_of(SCRIPTS[command], monkeypatch)
    for action in parser._actions:
        if action.required:  # a required option has no default to show
            text = parser._get_formatter()._expand_help(action)
            assert "(default" not in text, f"{command}: {action.dest}"


def test_api_errors_are_told_in_the_flags_a_command_user_types(
    dcp_data, tmp_path, capsys
):
    """``num_epochs`` is ``--epochs`` on the command line, ``angle_indices
    =[1, 2]`` is ``--angle-indices 1,2``; a quoted key stays as it is."""
    from hydrax.dynamics_model_training import train
    from hydrax.utils import in_flags

    code = train.main(
        ["--data-dir", str(dcp_data), "--task-name", "t", "--epochs", "0",
         "--checkpoint-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == 2
    assert "error: --epochs must be a positive integer, got 0" in (
        capsys.readouterr().err
    )
    p = argparse.ArgumentParser()
    p.add_argument("--angle-indices")
    p.add_argument("--epochs", dest="num_epochs")
    p.add_argument("--duration")
    said = "e.g. angle_indices=[1, 2]; {'num_epochs': 3}; num_epochs >= 1"
    assert in_flags(said, p) == (
        "e.g. --angle-indices 1,2; {'num_epochs': 3}; --epochs >= 1"
    )
    # Paths and dotted names keep their words; a plain word is a flag only
    # as the subject of "must be"; an alias names what the parser does not.
    said = "/a/num_epochs/x.pkl, args.num_epochs, angle_indices=(1, 2)"
    assert in_flags(said, p) == (
        "/a/num_epochs/x.pkl, args.num_epochs, --angle-indices 1,2"
    )
    p.add_argument("--resume", action="store_true")
    said = "continue with resume=True"  # a switch is its bare flag
    assert in_flags(said, p) == "continue with --resume"
    said = "the duration; duration must be >= 0.01; give another out_dir"
    assert in_flags(said, p, {"out_dir": "--output-dir"}) == (
        "the duration; --duration must be >= 0.01; give another --output-dir"
    )
