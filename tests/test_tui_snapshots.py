"""How the data and preview screens look at 80x24.

Paths on screen are relative to the repository root, the finetui home is an
empty temp folder, and every snapshot waits for the scan to end, so the
pictures are the same on every machine. Update with ``--snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from engine import recent
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.help import HelpScreen
from tui.screens.preview import PreviewScreen
from tui.screens.train import TrainScreen
from tui.widgets.file_tree import FileTree

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path("tests/fixtures/tui")
SIZE = (80, 24)


pytestmark = pytest.mark.usefixtures("tui_env")


async def tree_ready(pilot: Pilot, files: int = 3) -> None:
    """Wait until the data screen is up and its tree has listed the fixtures."""
    await until(pilot, lambda: bool(pilot.app.screen.query(FileTree)))
    tree = pilot.app.screen.query_one(FileTree)
    await until(pilot, lambda: len(tree.root.children) == files)


async def open_preview(pilot: Pilot, separator: str = "", files: int = 3) -> None:
    """Open the preview of the start file and wait for the scan to end."""
    await tree_ready(pilot, files)
    pilot.app.screen.query_one("#separator", Input).value = separator
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(pilot.app.screen, PreviewScreen))
    screen = pilot.app.screen
    assert isinstance(screen, PreviewScreen)
    await until(pilot, lambda: screen.report is not None or screen.error is not None)
    if screen.report is not None:  # then the lengths in tokens, counted in a second pass
        await until(pilot, lambda: "median" in str(screen.query_one("#tokens", Static).render()))


@pytest.mark.slow
def test_data_screen(snap_compare) -> None:
    """A file picked in the tree, its separator found and pre-filled, one recent file listed."""
    recent.remember(recent.RecentFile(FIXTURES / "qa.jsonl", "jsonl", None))

    async def run_before(pilot: Pilot) -> None:
        await tree_ready(pilot)
        await pilot.press("down", "down", "enter")
        separator = pilot.app.screen.query_one("#separator", Input)
        await until(pilot, lambda: separator.value == "--SEPARATOR--")

    assert snap_compare(FinetuiApp(start_path=FIXTURES), terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_preview_screen(snap_compare) -> None:
    """Counts, examples, length histogram and warnings of haiku.txt split at its separator."""

    async def run_before(pilot: Pilot) -> None:
        await open_preview(pilot, "--SEPARATOR--")

    assert snap_compare(FinetuiApp(start_path=FIXTURES / "haiku.txt"), terminal_size=SIZE, run_before=run_before)


async def tokens_shown(pilot: Pilot) -> None:
    """Wait for the example screen's token preview (a process of its own) to arrive."""
    await until(pilot, lambda: bool(pilot.app.screen.query("#tokens-summary")))
    summary = pilot.app.screen.query_one("#tokens-summary", Static)
    await until(pilot, lambda: "trained" in str(summary.render()), timeout=120)


@pytest.mark.slow
def test_example_dialog(snap_compare) -> None:
    """One prompt/completion example opened whole over the preview, with its tokens: the completion trained."""

    async def run_before(pilot: Pilot) -> None:
        await open_preview(pilot)
        await pilot.press("down", "down", "down", "enter")
        await tokens_shown(pilot)

    assert snap_compare(FinetuiApp(start_path=FIXTURES / "qa.jsonl"), terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_token_preview_of_a_chat(snap_compare) -> None:
    """An OpenAI chat with a weight-0 assistant turn: only the last assistant turn is drawn as trained."""

    async def run_before(pilot: Pilot) -> None:
        await open_preview(pilot, files=len(list(Path("tests/fixtures/formats").iterdir())))
        await pilot.press("enter")
        await tokens_shown(pilot)
        await pilot.press("end")
        await pilot.pause()

    app = FinetuiApp(start_path=Path("tests/fixtures/formats/openai_chat.jsonl"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_preview_of_a_broken_file(snap_compare) -> None:
    """The error names the file, line and problem; the examples read before it stay."""

    async def run_before(pilot: Pilot) -> None:
        await open_preview(pilot)

    assert snap_compare(FinetuiApp(start_path=FIXTURES / "broken.jsonl"), terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_train_screen(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled model, the default settings and the estimate for haiku.txt (no past runs: a rough guess)."""
    monkeypatch.setattr("shutil.which", lambda name: None)  # the guess adds a line where nvidia-smi is found

    async def run_before(pilot: Pilot) -> None:
        await open_preview(pilot, "--SEPARATOR--")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(pilot.app.screen, TrainScreen))
        await until(pilot, lambda: "steps" in str(pilot.app.screen.query_one("#estimate", Static).render()))
        await until(pilot, lambda: bool(pilot.app.screen.query_one("#model-panel").border_subtitle))

    assert snap_compare(FinetuiApp(start_path=FIXTURES / "haiku.txt"), terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_help_screen(snap_compare) -> None:
    """F1 over the data screen."""

    async def run_before(pilot: Pilot) -> None:
        await tree_ready(pilot)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(FinetuiApp(start_path=FIXTURES), terminal_size=SIZE, run_before=run_before)
