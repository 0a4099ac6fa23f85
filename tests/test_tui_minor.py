"""Small defects of the CLI and the data screen: a mistyped command, a wide compare, a named pipe, a stale form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.fixed_runs import write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.cli import main
from tui.screens.data import DataScreen
from tui.screens.preview import PreviewScreen
from tui.widgets.file_tree import FileTree

REPO = Path(__file__).resolve().parent.parent
SIZE = (80, 24)


@pytest.mark.parametrize("argv", [["trian"], ["trian", "data.txt", "--max-steps", "2"], ["rns", "--json"]])
def test_a_mistyped_command_gets_the_closest_one_in_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1, err
    closest = {"trian": "train", "rns": "runs"}[argv[0]]
    assert f"did you mean '{closest}'?" in err and "choose from" not in err


def test_a_word_like_no_command_says_so_without_listing_them(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["zzzz", "x"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1 and "'zzzz' is no command" in err and "inspect" not in err


@pytest.mark.slow
@pytest.mark.parametrize("columns", [80, 132])
def test_compare_of_many_runs_fits_the_terminal(columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """50 runs made one 1,214-column line per row; now the runs come in groups of columns as wide as the terminal."""
    monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads first
    names = [f"sweep-lr-{n:02d}" + ("-with-a-long-name" if n % 7 == 0 else "") for n in range(50)]
    for n, name in enumerate(names):
        write_run(f"2026-{n:02d}", "ready" if n % 3 else "failed", name=name, steps=2, max_steps=10 + n)
    assert main(["compare", *(f"2026-{n:02d}" for n in range(50))]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns, max(lines, key=len)
    run_rows = [line for line in lines if line.startswith("run ")]
    assert len(run_rows) > 1, "several groups"
    ids = [cell for line in run_rows for cell in line.split()[1:]]
    assert ids == [f"2026-{n:02d}" for n in range(50)], "every run once, in the order asked"
    steps = [cell for line in lines if line.startswith("train.max_steps ") for cell in line.split()[1:]]
    assert steps == [str(10 + n) for n in range(50)], "each group has the settings that differ"
    for name in names:
        assert name[:20] in out


@pytest.mark.usefixtures("tui_env")
async def test_a_named_pipe_is_not_a_regular_file_on_the_data_screen(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    app = FinetuiApp(start_path=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#path")))
        app.screen.query_one("#path", Input).value = str(fifo)
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, DataScreen)
        status = str(app.screen.query_one("#status", Static).content)
        assert status.startswith(f"{fifo} is not a regular file (a pipe, socket or device)") and "No such file" not in status, status


async def _pick_in_tree(pilot: Pilot, name: str) -> None:
    """Move the tree's cursor to ``name`` and press Enter, as a user would."""
    tree = pilot.app.screen.query_one(FileTree)
    await until(pilot, lambda: any(node.data and node.data.path.name == name for node in tree.root.children))
    node = next(node for node in tree.root.children if node.data and node.data.path.name == name)
    tree.focus()
    tree.move_cursor(node)
    await pilot.press("enter")
    await until(pilot, lambda: pilot.app.screen.query_one("#path", Input).value.endswith(name))


async def _preview(pilot: Pilot) -> int:
    """F5, wait for the scan, and go back: the examples the preview counted."""
    app = pilot.app
    data = app.screen
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(app.screen, PreviewScreen) and (app.screen.report is not None or app.screen.error is not None), timeout=60)
    preview = app.screen
    assert isinstance(preview, PreviewScreen) and preview.error is None, preview.error
    assert preview.report is not None
    examples = preview.report.examples
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is data)
    return examples


def _sniffed(pilot: Pilot) -> bool:
    return not [w for w in pilot.app.workers if w.group == "sniff" and w.is_running]


@pytest.mark.slow
@pytest.mark.usefixtures("tui_env")
async def test_each_picked_file_is_read_by_its_own_settings() -> None:
    """haiku.txt's sniffed separator (and a typed map) stayed in the form for the next file picked: shakespeare.txt
    then read as one example ("separator never found") and facts.jsonl as nothing; each file now starts afresh."""
    app = FinetuiApp(start_path=Path("sample_data"))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        separator = screen.query_one("#separator", Input)
        await _pick_in_tree(pilot, "haiku.txt")
        await until(pilot, lambda: separator.value == "--SEPARATOR--")
        assert await _preview(pilot) == 235

        screen.query_one("#mapping", Input).value = "text=poem"  # typed for one file, not for the next
        await _pick_in_tree(pilot, "shakespeare.txt")
        await until(pilot, lambda: _sniffed(pilot))
        assert separator.value == "" and screen.query_one("#mapping", Input).value == ""
        assert await _preview(pilot) == 616

        await _pick_in_tree(pilot, "facts.jsonl")
        await until(pilot, lambda: _sniffed(pilot))
        assert await _preview(pilot) == 320

        await _pick_in_tree(pilot, "haiku.txt")  # previewed before: its Recent settings come back
        assert separator.value == "--SEPARATOR--"
        assert await _preview(pilot) == 235


@pytest.mark.usefixtures("tui_env")
async def test_the_data_screen_says_a_typed_path_as_typed() -> None:
    """The status line was markup: a path with ``[/]`` in it crashed the screen, and an escape in it reached the terminal."""
    app = FinetuiApp(start_path=Path("sample_data"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#path")))
        app.screen.query_one("#path", Input).value = "no[/]such\x1b[2J.txt"
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, DataScreen)
        assert str(app.screen.query_one("#status", Static).content).startswith("No such file: no[/]such\\x1b[2J.txt")
