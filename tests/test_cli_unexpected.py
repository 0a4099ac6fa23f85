"""A bug in a command reaches the user as one line, never a traceback; FINETUI_DEBUG=1 shows where it happened."""

from __future__ import annotations

from pathlib import Path

import pytest

import tui.commands.runs as runs_command
from tui import DEBUG_ENV
from tui.cli import main


def test_an_unexpected_error_is_one_line_and_the_debug_switch_raises_it(finetui_home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def broken(args) -> int:
        raise RuntimeError("the run index went missing")

    monkeypatch.setattr(runs_command, "list_runs", broken)
    assert main(["runs"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"finetui: unexpected error: RuntimeError: the run index went missing (a bug in finetui; {DEBUG_ENV}=1 shows where)\n"
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="the run index went missing"):
        main(["runs"])
