"""The playground screen at 80x24, driven by keys, on the real inference path.

A tiny Llama and two ready runs with random, non-zero LoRA adapters (so
baseline and custom differ) are built once for the module; every app talks
to a real ``python -m engine.infer.server`` process through the screen's
client. Run ids are fixed, so what the screen shows is the same every time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static, TabbedContent, TextArea

from engine.config import DataConfig, ModelConfig, RunConfig
from engine.infer.protocol import Done, Reply, Scores, TokenScore
from engine.runs import RunStore
from tests.pilot_helpers import until as until_within
from tests.tiny_model import make_adapter, make_model
from tui.run_watch import RunWatcher
from tui.screens.dialogs import ErrorScreen
from tui.screens.playground import PlaygroundScreen, PromptScreen
from tui.widgets.playground_messages import RequestSent, StreamDone, StreamStarted, StreamText
from tui.widgets.playground_output import OutputPanel
from tui.widgets.playground_runs import BASELINE, RunPicker, VersusPicker
from tui.widgets.token_view import TokenView

REPO = Path(__file__).resolve().parent.parent
SIZE = (80, 24)
PROMPT = "the quick brown"
TEXT = "to be or not to be, that is the question."
#: Seconds to wait for the inference process (start, import torch, load the model) on a busy machine.
SLOW = 120.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny model, loaded in 4 bits, and its runs (see ``build_world``)."""
    root = tmp_path_factory.mktemp("tui-playground")
    return build_world(root, make_model(root / "tiny"), quant="4bit")


def build_world(root: Path, model_dir: Path, quant: str, adapter_scale: float = 0.5) -> dict[str, Any]:
    """A run store on ``model_dir``: two ready runs (alpha, beta) with random adapters, a failed
    one, and a ready one whose base model has gone (broken).

    Run folders are renamed to fixed ids, so labels and snapshots never
    depend on the clock.
    """
    home = root / "home"
    store = RunStore(home / "runs")
    data = DataConfig(str(root / "data.txt"))
    ids = {}
    runs = [("alpha", 1, "ready"), ("beta", 2, "ready"), ("failed", None, "failed"), ("broken", 1, "ready")]
    for n, (name, seed, state) in enumerate(runs):
        model = root / "gone" if name == "broken" else model_dir
        run = store.create(RunConfig(name, data, ModelConfig(str(model), quant=quant)))
        if seed is not None:
            make_adapter(model_dir, run.adapter_dir, seed, adapter_scale)
        run.write_status(run.status().moved(state))
        ids[name] = f"20260101-00000{n}-{name}"
        run.dir.rename(store.root / ids[name])
    return {"model": model_dir, "home": home, "store": store, **ids}


@pytest.fixture
def home(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the screen, and the inference process it starts, at the world's runs."""
    monkeypatch.setenv("FINETUI_HOME", str(world["home"]))
    return world["home"]


class PlaygroundApp(App[None]):
    """The screen as the app hosts it: the base screen of a mode, with the app's styles and run signal."""

    CSS_PATH = REPO / "tui" / "app.tcss"
    MODES = {"playground": PlaygroundScreen}
    DEFAULT_MODE = "playground"

    def __init__(self) -> None:
        super().__init__()
        self.run_watcher = RunWatcher(self)

    def on_mount(self) -> None:
        self.run_watcher.start()


until = partial(until_within, timeout=SLOW)  # the inference process loads a model first


def screen_of(pilot: Pilot) -> PlaygroundScreen:
    screen = pilot.app.screen_stack[0]
    assert isinstance(screen, PlaygroundScreen)
    return screen


def text_of(screen: PlaygroundScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def pick_run(pilot: Pilot, run_id: str, wait: bool = True) -> PlaygroundScreen:
    """Pick ``run_id`` with the keyboard in the picker (focused at start); ``wait`` for its model to load."""
    screen = screen_of(pilot)
    picker = screen.query_one(RunPicker)
    await until(pilot, lambda: bool(picker.choices), timeout=10)
    assert pilot.app.focused is picker
    ids = [None, *(c.id for c in picker.choices)]  # the menu's first row is the blank prompt
    here = ids.index(picker.value if isinstance(picker.value, str) else None)
    steps = ids.index(run_id) - here
    await pilot.press("enter", *(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    assert picker.value == run_id
    if wait:
        await until(pilot, lambda: text_of(screen, "#inference-status").startswith("ready"))
    return screen


async def dialog_shown(pilot: Pilot) -> ErrorScreen:
    """Wait for an error dialog to be up, with its OK button focused (Enter closes it)."""
    await until(pilot, lambda: isinstance(pilot.app.screen, ErrorScreen) and pilot.app.focused is not None, timeout=30)
    dialog = pilot.app.screen
    assert isinstance(dialog, ErrorScreen)
    return dialog


async def generate(pilot: Pilot, prompt: str = PROMPT, **settings: str) -> PlaygroundScreen:
    """Fill in the prompt and settings, press Ctrl+G, wait for both panels to finish."""
    screen = screen_of(pilot)
    screen.query_one("#prompt", TextArea).text = prompt
    for field, value in settings.items():
        screen.query_one(f"#sampling-{field.replace('_', '-')}", Input).value = value
    screen.query_one("#prompt", TextArea).focus()
    await pilot.press("ctrl+g")
    await until(pilot, lambda: screen.busy is None and all(p.done for p in screen.query(OutputPanel)))
    return screen


@pytest.fixture(scope="module")
def engine(world: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """The engine's own answer to a request (the server's handler, in this process): its ``Done`` or ``Scores`` per model."""
    from engine.infer.server import Server
    from engine.infer.session import InferenceSession

    server = Server(InferenceSession(world["store"]))

    def answer(**request: Any) -> dict[str, Any]:
        events: list[Reply] = []
        server.handle({"id": 1, **request}, events.append)
        return {e.model: e for e in events if isinstance(e, Done | Scores)}

    return answer


@pytest.mark.slow
async def test_generate_streams_both_models_and_greedy_matches_the_engine(world, home, engine) -> None:
    seen: list[Message] = []
    app = PlaygroundApp()
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = await pick_run(pilot, world["alpha"])
        choices = [c.id for c in screen.query_one(RunPicker).choices]
        assert choices == [world["broken"], world["beta"], world["alpha"]], "ready runs only, newest first"
        await generate(pilot, max_tokens="16", temperature="0", seed="7")
        panels = {p.id: p for p in screen.query(OutputPanel)}
        expected = engine(
            type="generate", prompt=PROMPT, run=world["alpha"], max_tokens=16, temperature=0.0, top_k=50, top_p=1.0, seed=7
        )
        for model in ("baseline", "custom"):
            assert panels[model].text == expected[model].text != ""
            done = str(panels[model].query_one(".output-done", Static).render())
            assert done.startswith(f"{expected[model].tokens} tokens · ") and done.endswith("seed 7")
            assert "tokens/s" in done
        assert panels["baseline"].text != panels["custom"].text
        assert panels["custom"].border_title == "custom · alpha"

        # Each message once, in the order it was first handled: it is seen again as it bubbles up to the app,
        # which may come after the next message's first handling.
        streamed = list({id(m): m for m in seen if isinstance(m, (StreamStarted, StreamText, StreamDone))}.values())
        order = [(type(m).__name__, m.done.model if isinstance(m, StreamDone) else m.model) for m in streamed]
        assert order[:2] == [("StreamStarted", "baseline"), ("StreamStarted", "custom")], "both start at once, in one batch"
        assert {model for name, model in order if name == "StreamDone"} == {"baseline", "custom"}
        assert any(name == "StreamText" for name, _ in order), "text arrives while the models generate"

        # Esc stops both mid-way (greedy: no early end of text). This model writes the 245 tokens its context leaves
        # in under a second, so under load a generation can end before Esc lands (finish_reason "context"): then again.
        screen.query_one("#sampling-max-tokens", Input).value = "250"
        for _ in range(3):
            await pilot.press("ctrl+g")
            await until(pilot, lambda: screen.busy is None or (screen.request_id is not None and all(p.text for p in panels.values())))
            await pilot.press("escape")
            await until(pilot, lambda: screen.busy is None)
            if all(p.done is not None and p.done.finish_reason == "cancelled" for p in panels.values()):
                break
        for panel in panels.values():
            assert panel.done is not None and panel.done.finish_reason == "cancelled" and panel.done.tokens < 245
            assert "stopped · seed 7" in str(panel.query_one(".output-done", Static).render())


@pytest.mark.slow
async def test_likelihood_shows_both_averages_the_change_and_coloured_tokens(world, home, engine) -> None:
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await pick_run(pilot, world["alpha"])
        screen.query_one(TabbedContent).active = "likelihood"
        await pilot.pause()
        screen.query_one("#score-text", TextArea).text = TEXT
        screen.query_one("#score-text", TextArea).focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.busy is None and "change" in text_of(screen, "#scores"))
        scores = engine(type="likelihood", text=TEXT, run=world["alpha"])
        shown = text_of(screen, "#scores")
        for model in ("baseline", "custom"):
            assert f"{scores[model].avg_logprob:.3f}" in shown and f"{scores[model].perplexity:,.2f}" in shown
            tokens = scores[model].texts[0].tokens
            content = screen.query_one(f"#{model}-tokens", TokenView).render()
            assert len(content.spans) == len(tokens), "one coloured span per token"
            assert content.plain.replace("↵", "") == "".join(t.text for t in tokens)
        change = scores["custom"].avg_logprob - scores["baseline"].avg_logprob
        change_line = shown.splitlines()[-1]
        assert change_line.startswith("change") and f"{change:+.3f}" in change_line
        assert ("custom higher" in change_line) == (change > 0)


@pytest.mark.slow
async def test_a_bad_sampling_value_is_marked_and_sends_nothing(world, home) -> None:
    seen: list[Message] = []
    app = PlaygroundApp()
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = screen_of(pilot)
        await until(pilot, lambda: bool(screen.query_one(RunPicker).choices), timeout=10)
        screen.select_run(world["beta"])
        await until(pilot, lambda: screen.query_one(RunPicker).value == world["beta"], timeout=10)
        screen.query_one("#prompt", TextArea).text = PROMPT
        top_p = screen.query_one("#sampling-top-p", Input)
        top_p.focus()
        await pilot.press("ctrl+u", "0")  # in (0, 1]: 0 is out
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert top_p.has_class("-invalid")
        assert text_of(screen, "#sampling-message").startswith("top-p: a number above 0")
        sent = [m.kind for m in seen if isinstance(m, RequestSent)]
        assert screen.busy is None and "generate" not in sent  # the run's "load" may have gone out by now
        await pilot.press("backspace", *"0.9")
        assert not top_p.has_class("-invalid") and not screen.query_one("#sampling-message").has_class("-error")


@pytest.mark.slow
async def test_failures_are_dialogs_and_a_dead_process_is_replaced_on_the_next_request(world, home) -> None:
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await pick_run(pilot, world["broken"], wait=False)
        dialog = await dialog_shown(pilot)
        assert dialog.title_text == "Could not load the run" and "gone" in dialog.message
        await pilot.press("enter")
        assert text_of(screen, "#inference-status") == "could not load the run"

        await pick_run(pilot, world["alpha"])
        client = screen.keeper.current()
        assert client is not None
        os.kill(client.pid, signal.SIGKILL)
        dialog = await dialog_shown(pilot)
        assert dialog.title_text == "The inference process stopped" and "exited" in dialog.message
        assert text_of(screen, "#inference-status") == "inference process stopped"
        await pilot.press("enter")
        assert app.screen is screen
        await generate(pilot, max_tokens="4", temperature="0")
        assert screen.keeper.current() not in (None, client)
        assert all(p.done and p.done.tokens > 0 for p in screen.query(OutputPanel))


@pytest.mark.slow
async def test_no_ready_run_explains_what_to_do_until_one_is_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINETUI_HOME", str(tmp_path / "home"))
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(pilot)
        await until(pilot, lambda: screen.query_one("#no-runs").display, timeout=10)
        assert not screen.query_one("#tabs").display
        assert "F3" in text_of(screen, "#no-runs") and "Ready" in text_of(screen, "#no-runs")

        run = RunStore().create(RunConfig("fresh", DataConfig(str(tmp_path / "data.txt")), ModelConfig("finetui-tiny")))
        run.write_status(run.status().moved("ready"))
        app.run_watcher.poke()
        picker = screen.query_one(RunPicker)
        await until(pilot, lambda: [c.id for c in picker.choices] == [run.id], timeout=10)
        assert screen.query_one("#tabs").display and not screen.query_one("#no-runs").display
        assert picker.choices[0].label == f"fresh · finetui-tiny · {run.id}"
        assert picker.value == run.id, "the only ready run is picked"


@pytest.mark.slow
async def test_the_app_opens_the_playground_on_a_run(world, home, monkeypatch: pytest.MonkeyPatch) -> None:
    """``FinetuiApp.open_playground(run)`` (the runs dashboard's way in) picks the run and loads it; quitting ends the process."""
    from tui.app import FinetuiApp

    monkeypatch.chdir(REPO)
    app = FinetuiApp(start_path=Path("tests/fixtures/tui"))
    async with app.run_test(size=SIZE) as pilot:
        app.open_playground(world["beta"])
        await until(pilot, lambda: isinstance(app.screen, PlaygroundScreen), timeout=10)
        screen = screen_of(pilot)
        await until(pilot, lambda: [p.value for p in screen.query(RunPicker)] == [world["beta"]], timeout=10)
        await until(pilot, lambda: screen.keeper.current() is not None)
        client = screen.keeper.current()
        assert client is not None and client.alive
        footer_keys = {b.key for _, b, enabled, _ in screen.active_bindings.values() if enabled}
        assert {"ctrl+g", "f1", "f2", "f3", "f4"} <= footer_keys and "escape" not in footer_keys, "Stop only while busy"
    assert not client.alive, "the inference process ends with the app"


def test_every_token_gets_a_span_and_the_text_reads_as_written() -> None:
    from tui.widgets.token_view import logprob_color, token_content

    pieces = ["to", " be", ",", " or", "\n", "\x0c", "", "é"]
    tokens = [TokenScore(t, n, -float(n), 1) for n, t in enumerate(pieces)]
    content = token_content(tokens)
    assert content.plain == "to be, or↵\n␌é", "each token's exact text: spaces stay before their word"
    assert [content.plain[s.start : s.end] for s in content.spans] == ["to", " be", ",", " or", "↵\n", "␌", "", "é"]
    assert logprob_color(-12.0) == logprob_color(-10.0) != logprob_color(0.0), "red below the scale, green at certainty"
    unlikely = token_content([TokenScore("x", 1, None, 9)])
    assert unlikely.spans[0].style == token_content([TokenScore("x", 1, -10.0, 9)]).spans[0].style, "no finite log-prob: fully red"


async def test_a_token_view_wraps_between_words_and_reads_as_written() -> None:
    """At any width the view breaks lines at spaces between words: its lines, joined by spaces, are the text."""
    words = TEXT.split(" ")
    tokens = [TokenScore(w if n == 0 else " " + w, n, -float(n), 1) for n, w in enumerate(words)]

    class OneView(App):
        def compose(self):
            yield TokenView()

    for width in (80, 21, 13):
        app = OneView()
        async with app.run_test(size=(width, 8)) as pilot:
            view = app.query_one(TokenView)
            view.show(tokens)
            await pilot.pause()
            lines = ["".join(s.text for s in view.render_line(y)).rstrip() for y in range(8)]
            assert " ".join(line for line in lines if line) == TEXT


@pytest.mark.slow
async def test_a_against_b_side_by_side_and_another_base_refused(world, home, engine) -> None:
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await pick_run(pilot, world["alpha"])
        versus = screen.query_one(VersusPicker)
        versus.value = world["broken"]  # trained on a base model that is not alpha's
        await until(pilot, lambda: versus.value == BASELINE, timeout=10)
        assert any("same base model" in n.message for n in app._notifications)
        versus.value = world["beta"]
        await pilot.pause()
        await generate(pilot, max_tokens="12", temperature="0", seed="3")
        panels = {p.id: p for p in screen.query(OutputPanel)}
        expected = engine(type="generate", prompt=PROMPT, run=world["alpha"], versus=world["beta"], max_tokens=12, temperature=0.0, seed=3)
        assert set(expected) == {"custom", "versus"}
        assert panels["baseline"].text == expected["custom"].text and panels["custom"].text == expected["versus"].text
        assert panels["baseline"].border_title == "A · alpha" and panels["custom"].border_title == "B · beta"


@pytest.mark.slow
async def test_chat_mode_renders_the_template_goes_on_from_each_answer_and_shows_the_prompt(world, home, engine) -> None:
    app = PlaygroundApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await pick_run(pilot, world["alpha"])
        screen.query_one("#chat", Checkbox).value = True
        screen.query_one("#system", Input).value = "be brief"
        await pilot.pause()
        await generate(pilot, "the quick brown fox?", max_tokens="6", temperature="0", seed="1")
        first = {p.id: p.text for p in screen.query(OutputPanel)}
        expected = engine(type="generate", run=world["alpha"], max_tokens=6, temperature=0.0, seed=1,
                          messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "the quick brown fox?"}])
        assert first == {"baseline": expected["baseline"].text, "custom": expected["custom"].text}
        assert screen.query_one("#prompt", TextArea).text == "", "the message joined the chat"
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), timeout=10)
        shown = "\n".join(str(s.render()) for s in app.screen.query(Static))
        assert "<|system|>be brief</s><|user|>the quick brown fox?</s><|assistant|>" in shown
        await pilot.press("escape")
        await generate(pilot, "and then?", max_tokens="6", temperature="0", seed="1")
        answers = {"baseline": expected["baseline"].text, "custom": expected["custom"].text}
        second = engine(type="generate", run=world["alpha"], max_tokens=6, temperature=0.0, seed=1, messages=[
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "the quick brown fox?"},
            {"role": "assistant", "content": answers}, {"role": "user", "content": "and then?"}])
        for panel in screen.query(OutputPanel):
            assert panel.text == second[panel.id].text and panel.history.startswith("› the quick brown fox?\n")
