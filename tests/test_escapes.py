"""Terminal escapes in names, prompts, reasons and templates are shown escaped, never sent to the terminal.

A run named ``$'\\e]0;pwned\\a\\e[2Jx'`` retitled the tmux pane when its page
opened and cleared the screen in ``finetui compare``; the same went for a
system prompt in ``generate --show-prompt`` and for an error quoting a chat
template. Every front end now passes such text through ``tui.format.shown``
(the data files' escaping), and the TUI puts names into Text/Content, never
markup, so ``[bold]`` or ``[/]`` in a name shows as typed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import DataTable

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.runs import RunStore
from tests.fixed_runs import SIZE, run_page, runs_listed, text_of, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.cli import main
from tui.format import shown
from tui.screens.run import RunLog
from tui.widgets.loss_chart import Series, legend

#: An OSC that retitles the terminal (or the tmux pane), then a CSI that clears the screen.
EVIL = "\x1b]0;pwned\x07\x1b[2Jx"
#: What ``EVIL`` reads as, escaped.
EVIL_SHOWN = "\\x1b]0;pwned\\x07\\x1b[2Jx"
#: Control characters a terminal acts on (newline and tab aside): none may be printed or drawn.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_shown_escapes_controls_keeps_newlines_and_is_idempotent() -> None:
    assert shown(EVIL) == EVIL_SHOWN
    assert shown("a\tb\nc\x9bd\x7f") == "a\tb\nc\\x9bd\\x7f"
    assert shown(shown(EVIL)) == shown(EVIL)


def test_compare_prints_names_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    write_run("evil", "ready", name=EVIL + " [bold]x[/]", steps=5)
    write_run("plain", "failed", name="plain", steps=3, reason="stopped: " + EVIL)
    assert main(["compare", "evil", "plain"]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out), repr(CONTROL.search(out))
    assert EVIL_SHOWN[:16] in out.splitlines()[0]  # the names' row
    assert f"• {EVIL_SHOWN} [bold]x[/] train" in out.splitlines()[-1]  # the chart's legend


def test_runs_and_show_print_what_the_run_says_escaped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = RunStore()
    run = store.create(RunConfig("x", DataConfig(str(tmp_path / f"data{EVIL}.txt")), ModelConfig(f"m{EVIL}"), train=TrainConfig(max_steps=2)))
    run.write_status(run.status().moved("failed", reason=f"the chat template says {EVIL}"))
    run.log_path.write_text(f"output {EVIL}\n")
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out) and "m\\x1b]0;pwned" in out
    assert main(["show", run.id]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out), repr(CONTROL.search(out))
    assert f"failed: the chat template says {EVIL_SHOWN}" in out
    assert f"data{EVIL_SHOWN}.txt" in out and f"m{EVIL_SHOWN}" in out and f"output {EVIL_SHOWN}" in out


def test_logs_prints_event_text_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    write_run("evil", "failed", steps=2, reason=EVIL)
    assert main(["logs", "evil"]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out) and f"status: failed ({EVIL_SHOWN})" in out


def test_the_charts_legend_is_content_not_markup() -> None:
    text = legend((Series(f"{EVIL}[/] [bold]x", ((1, 1.0),), "cyan"),))
    assert text.plain == f"━ {EVIL_SHOWN}[/] [bold]x"


@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny model and a LoRA adapter of it (random, untrained): enough for ``generate`` to run."""
    from tests.tiny_model import make_adapter, make_model

    root = tmp_path_factory.mktemp("escapes")
    model = make_model(root / "tiny")
    make_adapter(model, root / "adapter", seed=1)
    return model, root / "adapter"


def _ready_with_adapter(model: Path, adapter: Path) -> str:
    import shutil

    run = RunStore().create(RunConfig("chat", DataConfig("/data/x.jsonl"), ModelConfig(str(model))))
    shutil.copytree(adapter, run.adapter_dir)
    run.write_status(run.status().moved("ready"))
    return run.id


@pytest.mark.slow
def test_generate_show_prompt_prints_the_system_prompt_escaped(adapter_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _ready_with_adapter(*adapter_run)
    code = main(["generate", run_id, "--chat", "--system", EVIL, "--prompt", "hi", "--show-prompt", "-n", "2", "--temperature", "0"])
    out = capsys.readouterr().out
    assert code == 0
    prompt = out.split("── prompt · as")[1].split("── ")[0]
    assert EVIL_SHOWN in prompt and not CONTROL.search(prompt.replace("\n", "")), repr(prompt)


@pytest.mark.slow
def test_an_error_quoting_the_chat_template_is_escaped(adapter_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from engine.train.templates import TEMPLATE_FILE

    run_id = _ready_with_adapter(*adapter_run)
    (RunStore().get(run_id).adapter_dir / TEMPLATE_FILE).write_text("{{ raise_exception('no system turn: " + EVIL + "') }}")
    code = main(["generate", run_id, "--chat", "--prompt", "hi", "-n", "2"])
    err = capsys.readouterr().err.rstrip("\n")
    assert "Traceback" not in err and len(err.splitlines()) == 1, err  # the template's failure is the request's, said once
    line = err.splitlines()[0]
    assert code in (1, 2) and line.startswith("finetui generate: error: ")
    assert EVIL_SHOWN in line and not CONTROL.search(line), repr(line)


@pytest.mark.slow
@pytest.mark.usefixtures("tui_env")
async def test_the_run_page_draws_the_name_and_reason_escaped() -> None:
    run = write_run("evil", "failed", name=f"{EVIL} [bold]x[/]", steps=3, reason=f"stopped: {EVIL} [/]")
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id)
        await until(pilot, lambda: bool(text_of(screen, "#run-name")))
        assert text_of(screen, "#run-name") == f"{EVIL_SHOWN} [bold]x[/]"
        assert text_of(screen, "#run-reason").startswith(f"Failed: stopped: {EVIL_SHOWN} [/]. ")
        lines = list(screen.query_one(RunLog).lines)
        assert lines[-1].endswith(f"status: failed (stopped: {EVIL_SHOWN} [/])")
        drawn = "".join(segment.text for segment in screen.query_one("#run-name").render_line(0))  # what goes to the terminal
        assert drawn.startswith(EVIL_SHOWN) and not CONTROL.search(drawn)


@pytest.mark.slow
@pytest.mark.usefixtures("tui_env")
async def test_the_compare_view_draws_names_as_typed() -> None:
    """A name with ``[/]`` was markup to the table's column header and crashed the view; an escape reached the terminal."""
    from tui.screens.compare import CompareScreen
    from tui.screens.runs import RunTable

    write_run("20260101-0900-a", "ready", name=f"{EVIL}[/]", steps=5)
    write_run("20260101-0800-b", "ready", name="[bold]b", steps=5)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 2)
        screen.query_one(RunTable).marked = ["20260101-0900-a", "20260101-0800-b"]
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.query_one("#compare-table").row_count > 3)
        table = app.screen.query_one("#compare-table", DataTable)
        headers = [str(column.label) for column in table.columns.values()]
        assert headers[1].startswith("\\x1b]0;pwned") and headers[2] == "[bold]b"
        assert not any(CONTROL.search(h) for h in headers)
        assert app.screen.query_one("#compare-chart-panel").border_subtitle is not None


@pytest.mark.slow
async def test_the_playground_titles_and_pickers_show_names_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run pickers' options and the output panels' titles were markup: ``[/]`` in a name crashed the playground."""
    from tests.test_tui_playground import PlaygroundApp, screen_of
    from tui.widgets.playground_output import OutputPanel
    from tui.widgets.playground_runs import RunPicker

    monkeypatch.setenv("FINETUI_HOME", str(tmp_path / "home"))
    run = RunStore().create(RunConfig(f"{EVIL}[/]", DataConfig(str(tmp_path / "data.txt")), ModelConfig("finetui-tiny")))
    run.write_status(run.status().moved("ready"))
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(pilot)
        picker = screen.query_one(RunPicker)
        await until(pilot, lambda: [c.id for c in picker.choices] == [run.id])
        picker.value = run.id
        custom = screen.query_one("#custom", OutputPanel)
        await until(pilot, lambda: "·" in str(custom.border_title))
        assert custom._border_title is not None and custom._border_title.plain == f"custom · {EVIL_SHOWN}[/]"
        await pilot.press("ctrl+q")
