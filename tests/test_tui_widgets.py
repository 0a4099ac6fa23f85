"""The small pure helpers behind the TUI's widgets."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data import Example, Message
from tui.screens.base import display_path
from tui.widgets.example_table import snippet
from tui.widgets.histogram import bar_cells, fit_bars


def test_bars_merge_to_fit_keeping_edges_and_totals() -> None:
    bars = [(0, 9, 1), (10, 19, 2), (20, 29, 3), (30, 39, 4), (40, 49, 5)]
    assert fit_bars(bars, 10) == bars
    assert fit_bars(bars, 3) == [(0, 19, 3), (20, 39, 7), (40, 49, 5)]
    assert fit_bars(bars, 1) == [(0, 49, 15)]
    assert fit_bars(bars, 0) == []


@pytest.mark.parametrize(
    ("count", "peak", "width", "drawn"),
    [(10, 10, 4, "████"), (5, 10, 4, "██"), (1, 16, 2, "▏"), (1, 1000, 4, "▏"), (0, 10, 4, ""), (3, 0, 4, "")],
)
def test_bars_are_drawn_to_an_eighth_of_a_cell(count: int, peak: int, width: int, drawn: str) -> None:
    assert bar_cells(count, peak, width) == drawn


def test_snippets_are_one_short_line() -> None:
    chat = Example(0, 1, "messages", messages=(Message("user", "Hi  there"), Message("assistant", "Hello!\n\nHow are you?")))
    assert snippet(chat) == "user: Hi there↵assistant: Hello!↵↵How are you?"
    assert snippet(Example(0, 1, "text", text="  x" * 40), limit=10) == "x x x x x…"


def test_paths_show_relative_to_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "data" / "a.txt") == "data/a.txt"
    assert display_path(Path("a.txt")) == "a.txt"
    assert display_path(tmp_path) == str(tmp_path)  # the working folder itself, by name
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert display_path(tmp_path / "home" / "a.txt") == "~/a.txt"
    assert display_path(tmp_path / "a.txt") == str(tmp_path / "a.txt")
