"""What a newcomer to finetui tripped on (issue 38): the train form, the keys, the playground, the example dialog, the CLI's words."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from engine.train.defaults import MIN_STEPS
from tests.pilot_helpers import screen_text, settled, until
from tests.test_tui_playground import home, world  # noqa: F401 - the playground tests' run store, as fixtures
from tests.test_tui_train import open_train
from tui.app import FinetuiApp

HAIKU = Path("sample_data/haiku.txt")
SIZE = (80, 24)

pytestmark = pytest.mark.usefixtures("tui_env")


def visible(pilot) -> str:
    """The text on the terminal now, rows joined: what the user can read without scrolling."""
    return "\n".join(screen_text(pilot.app.export_screenshot())).replace("\xa0", " ")


@pytest.mark.slow
async def test_train_form_says_what_it_will_do() -> None:
    """Eval every shows the automatic interval, unticked boxes are empty, a focused field's help and a bad value's reason are on screen."""
    from engine.config import setting

    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        # the defaults' steps for haiku (the step floor, MIN_STEPS) at about 10 evaluations a run: "auto (every N)", not "off"
        auto = f"auto (every {math.ceil(MIN_STEPS / 10)})"
        await until(pilot, lambda: screen.query_one("#eval-steps", Input).placeholder == auto)
        assert auto in visible(pilot)
        assert str(screen.query_one("#trust-remote-code").render()).startswith("▐ ▌")  # unticked: an empty box
        assert str(screen.query_one("#packing").render()).startswith("▐✓▌")
        # a bad value's reason at once, without Ctrl+S, even with the form scrolled to its top (where the status line was out of sight)
        screen.query_one("#batch-size", Input).value = "0"
        await until(pilot, lambda: screen.query_one("#batch-size").has_class("-invalid"))
        await settled(pilot)
        assert "Batch must be at least 1, not 0" in visible(pilot)
        screen.query_one("#batch-size", Input).value = "4"
        await until(pilot, lambda: not screen.query_one("#batch-size").has_class("-invalid"))
        # a focused field's help, on screen however far the form is scrolled
        screen.query_one("#lora-r", Input).focus()
        await settled(pilot)
        help_line = setting("lora.r").meta.help
        assert help_line in str(screen.query_one("#field-help", Static).render()) and help_line in visible(pilot)


@pytest.mark.slow
def test_automatic_eval_interval_is_the_engines() -> None:
    """The form's "auto (every N)" divides the run as the trainer does (importing it loads transformers: slow)."""
    from engine.train import eval_steps
    from tui.screens import train

    assert train.auto_eval_every is eval_steps.auto_eval_every, "one rule, engine.config's, for both"


async def test_the_footer_shows_f2_f3_f4() -> None:
    """F2-F4 are in the footer (with F1), where a newcomer looks for them, not only on the help screen."""
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(pilot.app.screen.query("#separator")))
        await settled(pilot)
        footer = screen_text(pilot.app.export_screenshot())[-1].replace("\xa0", " ")
        assert "Help" in footer and "f2f3f4" in footer.replace(" ", "") and "Data·Runs·Play" in footer


@pytest.mark.slow
async def test_q_and_question_mark_quit_and_help_unless_typing() -> None:
    """In a text box ``q`` and ``?`` are text; elsewhere ``?`` opens the help (``q`` closes it) and ``q`` quits."""
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        app = pilot.app
        await until(pilot, lambda: bool(app.screen.query("#separator")))
        separator = app.screen.query_one("#separator", Input)
        separator.focus()
        await pilot.press("end", "q", "question_mark")
        assert separator.value.endswith("q?") and app.is_running and type(app.screen).__name__ == "DataScreen"
        await pilot.press("f3")
        await until(pilot, lambda: app.current_mode == "runs")
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == "finetui 0.1.0\n"


async def open_playground(pilot, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], object]:
    """F4, with the run loads recorded instead of sent to an inference process: what is picked is what's tested."""
    from tui.screens.playground import PlaygroundScreen

    loaded: list[str] = []
    monkeypatch.setattr(PlaygroundScreen, "load_run", lambda self, run_id: loaded.append(run_id))
    await pilot.press("f4")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlaygroundScreen))
    return loaded, pilot.app.screen


async def test_the_playground_picks_the_only_ready_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """One ready run (a failed one beside it) is picked and loaded at once; a second ready run keeps the pick."""
    from tests.fixed_runs import write_run
    from tui.widgets.playground_runs import RunPicker

    write_run("20260101-090000-haiku", "ready")
    write_run("20260101-090100-failed", "failed", name="failed")
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        loaded, screen = await open_playground(pilot, monkeypatch)
        picker = screen.query_one(RunPicker)
        await until(pilot, lambda: picker.value == "20260101-090000-haiku")
        assert loaded == ["20260101-090000-haiku"]
        write_run("20260101-090200-other", "ready", name="other")
        pilot.app.run_watcher.poke()
        await until(pilot, lambda: len(picker.choices) == 2)
        assert picker.value == "20260101-090000-haiku"


async def test_vs_never_offers_run_a_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixed_runs import write_run
    from tui.widgets.playground_runs import RunPicker, VersusPicker

    write_run("20260101-090000-haiku", "ready")
    write_run("20260101-090200-other", "ready", name="other")
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        _, screen = await open_playground(pilot, monkeypatch)
        picker, versus = screen.query_one(RunPicker), screen.query_one(VersusPicker)
        await until(pilot, lambda: len(picker.choices) == 2)
        picker.value = "20260101-090200-other"
        await until(pilot, lambda: [c.id for c in versus.choices] == ["20260101-090000-haiku"])
        picker.value = "20260101-090000-haiku"
        await until(pilot, lambda: [c.id for c in versus.choices] == ["20260101-090200-other"])


@pytest.mark.slow
async def test_the_example_dialog_steps_through_the_examples_with_one_preview_process() -> None:
    """n and p (or the arrows) show the next and previous example, each with its tokens, all from the one process the preview started."""
    from tui.screens.example import ExampleScreen
    from tui.screens.preview import PreviewScreen

    def summary() -> str:
        return str(pilot.app.screen.query_one("#tokens-summary", Static).render())

    async with FinetuiApp(start_path=Path("tests/fixtures/tui/qa.jsonl")).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen) and app.screen.report is not None)
        preview = app.screen
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ExampleScreen) and "trained" in summary(), timeout=120)
        dialog = app.screen
        first, tokens = dialog.example.index, summary()
        await pilot.press("n")
        await until(pilot, lambda: dialog.example.index == first + 1 and "trained" in summary() and summary() != tokens, timeout=60)
        assert str(dialog.query_one("#example-dialog").border_title).startswith(f"Example #{first + 1} · 2 of ")
        process = preview.previewer._process
        await pilot.press("left")
        await until(pilot, lambda: dialog.example.index == first and summary() == tokens, timeout=60)
        assert preview.previewer._process is process and process.poll() is None, "one process, kept"
        await pilot.press("escape", "escape")
        await until(pilot, lambda: process.poll() is not None)  # the preview closed: its process ended


def test_the_preview_process_answers_a_bad_request_in_one_line_and_goes_on() -> None:
    import io

    from engine.token_previews import serve

    out = io.StringIO()
    serve(["not json\n", "[1]\n", '{"spec": {"path": "no-such-file.jsonl"}, "index": 1, "model": "finetui-tiny", "seq_len": 8}\n'], out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(line.startswith('{"error": ') for line in lines)
    assert "not JSON" in lines[0] and "JSON object" in lines[1] and "no-such-file.jsonl" in lines[2]


@pytest.mark.slow
async def test_a_chat_reads_as_a_chat_and_can_be_saved_and_copied(world, home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Each message shows the moment it is sent, then the answers under it; Ctrl+S saves the chat as chat-<run>-<time>.md here, Ctrl+T copies it."""
    from textual.widgets import Checkbox, TextArea

    from tests.test_tui_playground import PlaygroundApp, pick_run
    from tui.widgets.playground_output import OutputPanel
    from tui.widgets.token_view import visible

    monkeypatch.chdir(tmp_path)
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await pick_run(pilot, world["alpha"])
        screen.query_one("#chat", Checkbox).value = True
        screen.query_one("#sampling-max-tokens", Input).value = "4"
        await pilot.pause()
        panels = list(screen.query(OutputPanel))

        def shown(panel: OutputPanel) -> str:
            return str(panel.query_one(".output-text", Static).render())

        for message in ("first question?", "second question?"):
            prompt = screen.query_one("#prompt", TextArea)
            prompt.text = message
            prompt.focus()
            await pilot.press("ctrl+g")
            assert all(f"› {message}" in shown(p) for p in panels), "the message shows as soon as it is sent"
            assert prompt.text == ""
            await until(pilot, lambda: screen.busy is None and not screen.asked, timeout=120)
        for panel in panels:
            text = shown(panel)
            first, second = text.index("› first question?"), text.index("› second question?")
            answers = [visible(answer, mark_newlines=False) for _, answer in panel.exchanges]
            assert first < second and answers[0] in text[first:second] and answers[1] in text[second:]
        await pilot.press("ctrl+s")
        saved = list(tmp_path.glob(f"chat-{world['alpha']}-*.md"))
        assert len(saved) == 1
        transcript = saved[0].read_text(encoding="utf-8")
        assert transcript.startswith(f"# Chat with alpha ({world['alpha']})") and "**You:** first question?" in transcript
        assert f"**custom · alpha:** {panels[1].exchanges[1][1]}" in transcript
        assert any(str(saved[0]) in n.message for n in app._notifications), "says where"
        await pilot.press("ctrl+t")
        assert app.clipboard == transcript


def test_plan_offline_names_the_shapes_that_need_no_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["plan", "--model", "meta-llama/Llama-3.1-8B"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("finetui plan: error: cannot read the config of 'meta-llama/Llama-3.1-8B': offline") and "shape:llama-3-8b" in line


def test_compare_shows_a_missing_setting_as_a_dash_and_paths_by_their_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from engine.config import DataConfig, RunConfig, TrainConfig
    from engine.runs import RunStore
    from tui.cli import main

    monkeypatch.setenv("COLUMNS", "120")
    shared = tmp_path / "a-long-folder-every-run-shares" / "data"
    store = RunStore()
    one = store.create(RunConfig("one", DataConfig(str(shared / "a" / "facts.jsonl")), train=TrainConfig(max_steps=40)))
    two = store.create(RunConfig("two", DataConfig(str(shared / "b" / "facts.jsonl"))))
    assert main(["compare", one.id, two.id, "--no-chart"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["train.max_steps"] == ["40", "-"]
    assert rows["data.path"] == ["…/data/a/facts.jsonl", "…/data/b/facts.jsonl"], "the ends that differ, not the folders both share"
