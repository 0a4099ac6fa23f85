"""The data and preview screens, driven by keys only, as a user would at 80x24."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import work
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from engine import recent
from engine.data import Cancelled, DataSpec, scan
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.messages import ScanProgress
from tui.screens.base import FinetuiScreen
from tui.screens.data import DataScreen
from tui.screens.dialogs import ErrorScreen
from tui.screens.example import ExampleScreen
from tui.screens.preview import PreviewScreen, ScanFeed
from tui.widgets.example_table import ExampleTable
from tui.widgets.file_tree import FileTree

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path("tests/fixtures/tui")
SIZE = (80, 24)


pytestmark = pytest.mark.usefixtures("tui_env")


async def tree_ready(pilot: Pilot) -> None:
    tree = pilot.app.screen.query_one(FileTree)
    await until(pilot, lambda: len(tree.root.children) == 3)


async def scan_finished(pilot: Pilot) -> PreviewScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, PreviewScreen))
    screen = pilot.app.screen
    assert isinstance(screen, PreviewScreen)
    await until(pilot, lambda: screen.report is not None or screen.error is not None)
    await pilot.pause()
    return screen


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_keyboard_only_flow(tui_env: Path) -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        await tree_ready(pilot)
        assert isinstance(app.focused, FileTree)
        await pilot.press("down", "down", "enter")  # the root, broken.jsonl, haiku.txt
        screen = app.screen
        assert screen.query_one("#path", Input).value == "tests/fixtures/tui/haiku.txt"
        assert app.focused is screen.query_one("#separator", Input)

        separator = screen.query_one("#separator", Input)
        await until(pilot, lambda: separator.value == "--SEPARATOR--")  # found in the file and pre-filled
        await pilot.press("enter")
        preview = await scan_finished(pilot)
        assert text_of(preview, "#counts").startswith("14 examples · train 13 · eval 1")
        assert "txt, split at --SEPARATOR--" in text_of(preview, "#source")
        table = preview.query_one(ExampleTable)
        assert table.row_count == 14
        warnings = text_of(preview, "#warnings")
        assert "too_small ×1" in warnings and "duplicate ×1" in warnings and "(example 9)" in warnings

        await pilot.press("down", "down", "enter")
        assert isinstance(app.screen, ExampleScreen)
        assert str(app.screen.query_one("#example-text", Static).content).startswith("Cursor blinks at dawn\n")
        await pilot.press("escape")
        assert app.screen is preview
        await pilot.press("escape")
        assert isinstance(app.screen, DataScreen)

        assert recent.load() == [recent.RecentFile(REPO / FIXTURES / "haiku.txt", None, "--SEPARATOR--")]
        assert (tui_env / "recent.json").is_file()
        assert app.screen.query_one("#recent", OptionList).option_count == 1


@pytest.mark.slow
async def test_typed_path_and_f5_open_the_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / FIXTURES)
    app = FinetuiApp()  # starts in the working folder
    async with app.run_test(size=SIZE) as pilot:
        await tree_ready(pilot)
        await pilot.press("tab", *"qa.jsonl", "f5")  # the recent list is empty, so Tab goes to the path
        preview = await scan_finished(pilot)
        assert text_of(preview, "#counts").startswith("6 examples · train 5 · eval 1")
        await pilot.press("enter")
        body = str(app.screen.query_one("#example-text", Static).content)
        assert body == "prompt\nWhat is the capital of France?\n\ncompletion\n Paris."


@pytest.mark.slow
async def test_a_start_file_is_preselected() -> None:
    app = FinetuiApp(start_path=FIXTURES / "qa.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        preview = await scan_finished(pilot)
        assert preview.spec == DataSpec(FIXTURES / "qa.jsonl")


async def test_a_bad_file_shows_its_error_and_the_app_goes_on() -> None:
    app = FinetuiApp(start_path=FIXTURES / "broken.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        preview = await scan_finished(pilot)
        error = preview.query_one("#error", Static)
        assert error.display
        assert str(error.content) == "tests/fixtures/tui/broken.jsonl:3: malformed JSON: Expecting value (column 44)"
        assert preview.query_one(ExampleTable).row_count == 2  # the examples read before the error
        await pilot.press("escape")
        assert isinstance(app.screen, DataScreen)
        assert recent.load() == []


async def test_a_missing_path_is_reported_on_the_data_screen() -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#path", Input).focus()
        await pilot.press(*"nope.txt", "enter")
        assert isinstance(app.screen, DataScreen)
        status = app.screen.query_one("#status", Static)
        assert status.has_class("-error")
        assert str(status.content).startswith("No such file: nope.txt")


@pytest.mark.slow
async def test_choosing_a_recent_file_restores_its_settings() -> None:
    recent.remember(recent.RecentFile(FIXTURES / "haiku.txt", "txt", "--SEPARATOR--"))
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#recent", OptionList).focus()
        await pilot.press("down", "enter")
        screen = app.screen
        assert screen.query_one("#path", Input).value == "tests/fixtures/tui/haiku.txt"
        assert screen.query_one("#separator", Input).value == "--SEPARATOR--"
        await pilot.press("enter")
        preview = await scan_finished(pilot)
        assert preview.spec == DataSpec(FIXTURES / "haiku.txt", "txt", "--SEPARATOR--")


def test_a_cancelled_scan_stops_mid_file(tmp_path: Path) -> None:
    """Leaving the screen cancels the worker; the feed's progress callback then stops the scan."""
    big = tmp_path / "big.txt"
    big.write_text("a few words of text in a paragraph\n\n" * 100_000)  # 3.6 MB: progress every 1 MB
    posted: list[object] = []
    cancelled = False

    def progress(done: int, total: int) -> None:
        nonlocal cancelled
        feed.progress(done, total)
        cancelled = True

    feed = ScanFeed(posted.append, lambda: cancelled)
    with pytest.raises(Cancelled):
        scan(DataSpec(big), on_preview=feed.example, on_progress=progress)
    last = posted[-1]  # the first progress report, then nothing: the scan stopped at 1 MB of 3.6
    assert isinstance(last, ScanProgress) and last.done < last.total


class _BuggyScreen(FinetuiScreen):
    """A screen whose worker hits a bug, as any later screen's might."""

    def on_mount(self) -> None:
        self.crash()

    @work(thread=True, exit_on_error=False)
    def crash(self) -> None:
        raise RuntimeError("boom")


async def test_an_unexpected_worker_error_becomes_a_dialog() -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        buggy = _BuggyScreen()
        await app.push_screen(buggy)
        # Pushed is not yet composed: wait for the message itself (under load the query could come first).
        await until(pilot, lambda: isinstance(app.screen, ErrorScreen) and bool(app.screen.query("#dialog-message")))
        assert str(app.screen.query_one("#dialog-message", Static).content) == "RuntimeError: boom"
        await pilot.press("enter")
        assert app.screen is buggy and app.is_running


# --- issue 11: the sniffed separator, the column map, the token preview, what trains ---------------

FORMATS = Path("tests/fixtures/formats")


async def sniffed_haiku(pilot: Pilot) -> Input:
    """Pick haiku.txt (separated by --SEPARATOR-- lines) in the tree; its separator box, once the offer is in it."""
    await tree_ready(pilot)
    await pilot.press("down", "down", "enter")
    separator = pilot.app.screen.query_one("#separator", Input)
    await until(pilot, lambda: separator.value == "--SEPARATOR--")
    return separator


@pytest.mark.slow
async def test_the_sniffed_separator_is_pre_filled(tui_env: Path) -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        separator = await sniffed_haiku(pilot)
        assert "Looks separated by --SEPARATOR--" in text_of(app.screen, "#status")
        await pilot.press(*"###")  # typing replaces the offer
        assert separator.value == "###"
        separator.value = "--SEPARATOR--"
        await pilot.press("enter")
        preview = await scan_finished(pilot)
        assert preview.spec.separator == "--SEPARATOR--" and preview.report is not None and preview.report.examples == 14


@pytest.mark.slow
async def test_a_separator_left_out_is_suggested_in_the_screens_own_terms(tui_env: Path) -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        separator = await sniffed_haiku(pilot)
        separator.value = ""  # the user clears the offer and previews anyway
        await pilot.press("enter")
        preview = await scan_finished(pilot)
        warnings = text_of(preview, "#warnings")
        assert "looks separated by `--SEPARATOR--`" in warnings
        assert "; put it in the Separator box on the data screen (F2)" in warnings and "--separator" not in warnings


@pytest.mark.parametrize("name", ["qa.jsonl", "broken.jsonl"])
async def test_a_file_without_markers_gets_no_separator(tui_env: Path, name: str) -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        await tree_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DataScreen)
        screen._fill(REPO / FIXTURES / name)
        worker_done = lambda: not [w for w in app.workers if w.group == "sniff" and w.is_running]  # noqa: E731
        await until(pilot, worker_done)
        await pilot.pause()
        assert app.screen.query_one("#separator", Input).value == ""


@pytest.mark.slow
async def test_the_map_field_reaches_the_preview(tui_env: Path) -> None:
    app = FinetuiApp(start_path=FORMATS / "custom_columns.csv")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#mapping")))
        app.screen.query_one("#mapping", Input).value = "prompt"
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, DataScreen) and "FIELD=COLUMN" in text_of(app.screen, "#status")
        app.screen.query_one("#mapping", Input).value = "prompt=asked,completion=replied"
        await pilot.press("f5")
        preview = await scan_finished(pilot)
        assert preview.report is not None and preview.report.examples == 4
        assert preview.examples["0"].completion == "Halden."


@pytest.mark.slow
async def test_the_example_view_shows_what_trains(tui_env: Path) -> None:
    app = FinetuiApp(start_path=FORMATS / "openai_chat.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#separator")))
        await pilot.press("f5")
        await scan_finished(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ExampleScreen))
        summary = app.screen.query_one("#tokens-summary", Static)
        await until(pilot, lambda: "trained" in str(summary.content), timeout=120)
        from tui.widgets.token_preview import TRAINED_STYLE, TokenPreview

        content = app.screen.query_one(TokenPreview).content
        trained = "".join(content.plain[s.start : s.end] for s in content.spans if str(s.style) == TRAINED_STYLE)
        assert trained == " Paris, as if everyone doesn't know that already.</s>\n"  # not the weight-0 "Paris"
        assert "Assistant: Paris</s>" in content.plain


@pytest.mark.slow
async def test_the_train_screen_warns_when_nothing_trains(tui_env: Path, tmp_path: Path) -> None:
    data = tmp_path / "weights.jsonl"
    turn = '{"messages": [{"role": "user", "content": "Hi %d"}, {"role": "assistant", "content": "Hello %d", "weight": 0}]}\n'
    data.write_text("".join(turn % (i, i) for i in range(5)))
    app = FinetuiApp(start_path=data)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#separator")))
        await pilot.press("f5")
        await scan_finished(pilot)
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#train-data")))
        assert "would train on no tokens" in str(app.screen.query_one("#train-data", Static).content)


@pytest.mark.slow
async def test_escape_sequences_are_shown_escaped(tui_env: Path, tmp_path: Path) -> None:
    data = tmp_path / "hostile.jsonl"
    data.write_text('{"prompt": "title\\u001b]2;pwned\\u0007", "completion": "red \\u001b[31m text"}\n')
    app = FinetuiApp(start_path=data)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#separator")))
        await pilot.press("f5")
        preview = await scan_finished(pilot)
        row = preview.query_one(ExampleTable).get_row_at(0)
        assert "\x1b" not in str(row[-1]) and "\\x1b]2;pwned\\x07" in str(row[-1])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ExampleScreen))
        body = str(app.screen.query_one("#example-text", Static).content)
        assert "\x1b" not in body and "\x07" not in body and "red \\x1b[31m text" in body


async def test_f2_comes_back_to_the_same_data_screen_with_what_was_typed(tui_env: Path) -> None:
    """The first screen is Textual's default screen (it paints sooner so); F2 must still return to it, not to a new one."""
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        await tree_ready(pilot)
        first = app.screen
        assert isinstance(first, DataScreen) and app.current_mode == "data"
        first.query_one("#separator", Input).value = "%%"
        await pilot.press("f3")
        await until(pilot, lambda: app.current_mode == "runs")
        await pilot.press("f2")
        await until(pilot, lambda: app.current_mode == "data")
        assert app.screen is first
        assert first.query_one("#separator", Input).value == "%%"
