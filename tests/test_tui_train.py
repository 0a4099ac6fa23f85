"""The preview's token lengths and the train screen: defaults, inline validation, the estimate, launch."""

from __future__ import annotations

import json
import math
from pathlib import Path
from time import monotonic

import pytest
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Static

from engine.config import settings
from engine.runs import RunStore
from engine.runs.process import cancel, is_alive
from engine.train.defaults import MIN_STEPS
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.dialogs import ConfirmScreen
from tui.screens.preview import PreviewScreen
from tui.screens.train import TrainScreen, field_id

REPO = Path(__file__).resolve().parent.parent
HAIKU = Path("sample_data/haiku.txt")
SIZE = (80, 24)


pytestmark = pytest.mark.usefixtures("tui_env")


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_train(pilot: Pilot) -> TrainScreen:
    """From the data screen with haiku.txt chosen: set the separator, preview, then t."""
    await until(pilot, lambda: bool(pilot.app.screen.query("#separator")))
    pilot.app.screen.query_one("#separator", Input).value = "--SEPARATOR--"
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(pilot.app.screen, PreviewScreen) and pilot.app.screen.report is not None)
    preview = pilot.app.screen
    await until(pilot, lambda: "median" in text(preview, "#tokens"))
    await pilot.press("t")
    await until(pilot, lambda: isinstance(pilot.app.screen, TrainScreen))
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    await until(pilot, lambda: "steps" in text(screen, "#estimate"))
    return screen


@pytest.mark.slow
async def test_preview_shows_lengths_in_the_default_models_tokens() -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(pilot.app.screen.query("#separator")))
        pilot.app.screen.query_one("#separator", Input).value = "--SEPARATOR--"
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(pilot.app.screen, PreviewScreen) and "median" in text(pilot.app.screen, "#tokens"))
        # the bundled tokenizer: the haiku are 21 tokens at the median, 30 at most (bos and eos included)
        assert text(pilot.app.screen, "#tokens") == "tokens (finetui-tiny): median 20, p90 24, max 29"


@pytest.mark.slow
async def test_train_screen_defaults_and_estimate() -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        assert screen.query_one("#model", Input).value == "finetui-tiny"
        assert screen.query_one("#name", Input).value == "haiku"
        assert "8.9M parameters · context 512 tokens" in text(screen, "#model-facts")
        # Defaults from the model and the data (engine.train.defaults), each saying why.
        # haiku packs into 3 steps a pass: the step floor sets the passes (engine.train.defaults.MIN_STEPS)
        passes = math.ceil(MIN_STEPS / 3)
        await until(pilot, lambda: screen.config is not None and screen.config.train.epochs == passes)
        assert (screen.config.train.lr, screen.config.lora.r, screen.config.lora.alpha) == (0.0026, 16, 32)
        assert (screen.query_one("#epochs", Input).value, screen.query_one("#lr", Input).value) == (str(passes), "0.0026")
        why = text(screen, "#defaults")
        assert "Learn rate ← 8.9M params" in why and f"{passes} passes, {3 * passes} steps" in why and "α ← 2 × r" in why
        estimate = text(screen, "#estimate")
        assert "sequences of 512" in estimate and f"{3 * passes} steps" in estimate and "about" in estimate
        # Whatever the user types wins, and says so.
        screen.query_one("#lr", Input).value = "0.001"
        screen.query_one("#lora-r", Input).value = "4"
        await until(pilot, lambda: "Learn rate ← yours" in text(screen, "#defaults") and "LoRA r ← yours" in text(screen, "#defaults"))
        assert (screen.config.train.lr, screen.config.lora.r, screen.config.lora.alpha) == (0.001, 4, 8), "alpha follows the rank"
        assert screen.config.train.epochs == passes
        screen.query_one("#max-steps", Input).value = "40"
        await until(pilot, lambda: "40 steps" in text(screen, "#estimate"))
        assert "Max steps ← yours" in text(screen, "#defaults")


@pytest.mark.slow
async def test_a_bad_value_marks_its_field_and_blocks_the_launch(tui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        batch = screen.query_one("#batch-size", Input)
        batch.focus()  # selects the value, so typing replaces it
        await pilot.pause()
        await pilot.press("0")
        await until(pilot, lambda: batch.has_class("-invalid"))
        # The field is found from the error's path (train.batch_size), and the message uses the form's label.
        assert text(screen, "#train-status") == "Batch must be at least 1, not 0"
        assert screen.query_one("#launch", Button).disabled
        assert "Fix the setting" in text(screen, "#estimate")
        told: list[str] = []
        monkeypatch.setattr(screen, "notify", lambda message, **_: told.append(message))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(told))  # the launch action ran, and refused: it says why instead of starting
        assert told == ["Batch must be at least 1, not 0"]
        assert RunStore().list() == [] and isinstance(pilot.app.screen, TrainScreen)
        await pilot.press("backspace", "8")
        await until(pilot, lambda: not batch.has_class("-invalid"))
        assert not screen.query_one("#launch", Button).disabled and screen.config.train.batch_size == 8


@pytest.mark.slow
async def test_launch_saves_the_form_as_the_runs_config_and_opens_the_run() -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#name", Input).value = "my-haiku"
        screen.query_one("#lora-r", Input).value = "4"
        screen.query_one("#max-steps", Input).value = "2"
        await until(pilot, lambda: (screen.config.name, screen.config.lora.r, screen.config.train.max_steps) == ("my-haiku", 4, 2))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(RunStore().list()) == 1)
        run = RunStore().list()[0]
        try:
            config = run.config()
            assert (config.name, config.lora.r, config.train.max_steps, config.data.separator) == ("my-haiku", 4, 2, "--SEPARATOR--")
            assert config.data.path == str((REPO / HAIKU).resolve())
            await until(pilot, lambda: pilot.app.current_mode == "runs")
        finally:
            await stop(pilot, run)


async def stop(pilot: Pilot, run) -> None:
    """Cancel a run the test launched, once its worker has started, and wait for the worker to end."""
    deadline = monotonic() + 30
    while run.status().pid is None and monotonic() < deadline:
        await pilot.pause(0.1)
    cancel(run)
    deadline = monotonic() + 60
    while is_alive(run) and monotonic() < deadline:
        await pilot.pause(0.2)


@pytest.mark.slow
async def test_a_model_that_cannot_be_found_blocks_the_launch_and_a_hub_id_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # offline, a hub id not on disk can't be used either
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        model = screen.query_one("#model", Input)
        model.value = "./no-such-model"
        await until(pilot, lambda: model.has_class("-invalid"))
        assert "no model './no-such-model'" in text(screen, "#train-status")
        assert screen.query_one("#launch", Button).disabled and screen.config is None
        model.value = "some-org/some-model"  # not on disk: the run downloads it
        await until(pilot, lambda: "downloads it from the Hugging Face Hub" in text(screen, "#model-facts"))
        assert not model.has_class("-invalid") and not screen.query_one("#launch", Button).disabled


@pytest.mark.slow
async def test_every_setting_reaches_the_form_from_its_one_declaration() -> None:
    """Each setting the train screen takes has its field, labelled and explained by its declaration in engine.config."""
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        on_screen = [s for s in settings() if s.meta.form not in ("data", "cli")]  # cli: flags only, by declaration
        assert {s.path for s in on_screen} >= {"model.trust_remote_code", "train.logging_steps", "train.packing", "train.lr"}
        for s in on_screen:
            widget = screen.query_one(f"#{field_id(s)}")
            assert widget.tooltip == s.meta.help, s.path
        # the others come from the data screen's spec
        assert screen.config.data.separator == "--SEPARATOR--" and Path(screen.config.data.path).resolve() == (REPO / HAIKU).resolve()
        # a checkbox reaches the config as typed values do
        screen.query_one("#packing", Checkbox).value = False
        screen.query_one("#logging-steps", Input).value = "5"
        await until(pilot, lambda: screen.config is not None and not screen.config.train.packing and screen.config.train.logging_steps == 5)


@pytest.mark.slow
async def test_trusting_a_models_code_asks_before_the_run_starts() -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#trust-remote-code", Checkbox).value = True
        screen.query_one("#max-steps", Input).value = "1"
        await until(pilot, lambda: screen.config is not None and screen.config.model.trust_remote_code)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        assert "runs it on this machine" in str(pilot.app.screen.query_one("#dialog-message", Static).render())
        assert pilot.app.screen.focused is pilot.app.screen.query_one("#dialog-no", Button)
        await pilot.press("escape")  # no: back to the form, nothing started (the start sets its status at once)
        await until(pilot, lambda: pilot.app.screen is screen)
        assert RunStore().list() == [] and "Starting" not in text(screen, "#train-status")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.click("#dialog-yes")
        await until(pilot, lambda: len(RunStore().list()) == 1)
        run = RunStore().list()[0]
        try:
            assert run.config().model.trust_remote_code is True
        finally:
            await stop(pilot, run)


@pytest.fixture
def code_model(tmp_path: Path) -> Path:
    """The bundled model with an ``auto_map``: a model that ships code (the code is never imported here)."""
    bundled = REPO / "sample_data/models/finetui-tiny"
    folder = tmp_path / "coded"
    folder.mkdir()
    for file in bundled.iterdir():
        (folder / file.name).symlink_to(file)
    config = json.loads((bundled / "config.json").read_text())
    (folder / "config.json").unlink()
    (folder / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModelForCausalLM": "modeling_x.XForCausalLM"}}))
    return folder


@pytest.mark.slow
async def test_a_model_that_ships_code_marks_the_trust_field(code_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's model check hints at model.trust_remote_code; the form marks that field, words the fix as it, and keeps the run from starting."""
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#model", Input).value = str(code_model)
        trust = screen.query_one("#trust-remote-code", Checkbox)
        await until(pilot, lambda: trust.has_class("-invalid"))  # offered as soon as the model is checked, before Ctrl+S
        assert text(screen, "#train-status") == "'coded' ships its own code (modeling_x.XForCausalLM); tick Trust code if you trust it"
        assert screen.query_one("#launch", Button).disabled and screen.config is None
        told: list[str] = []
        monkeypatch.setattr(screen, "notify", lambda message, **_: told.append(message))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(told))
        assert told[0].endswith("tick Trust code if you trust it") and RunStore().list() == []
        trust.value = True
        await until(pilot, lambda: not trust.has_class("-invalid"))
        assert not screen.query_one("#launch", Button).disabled and screen.config.model.trust_remote_code
        trust.value = False  # the refusal stands again while the setting is not its fix
        await until(pilot, lambda: trust.has_class("-invalid"))
        screen.query_one("#model", Input).value = "finetui-tiny"  # another model: not refused
        await until(pilot, lambda: not trust.has_class("-invalid") and screen.config is not None)


@pytest.mark.slow
async def test_a_launch_the_engine_refuses_marks_the_field_its_hint_names(code_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the form's own early check, the launch's refusal (engine.runs.lifecycle) marks the same field."""
    monkeypatch.setattr("tui.screens.train.check_model", lambda *args, **kwargs: None)
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#model", Input).value = str(code_model)
        await until(pilot, lambda: screen.facts is not None and screen.facts.path == code_model and screen.config is not None)
        trust = screen.query_one("#trust-remote-code", Checkbox)
        assert not trust.has_class("-invalid")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: trust.has_class("-invalid"))
        assert text(screen, "#train-status").endswith("; tick Trust code if you trust it") and RunStore().list() == []


def palette_offers(pilot: Pilot, name: str) -> bool:
    """Whether the command palette's highlighted command starts with ``name``: its search has ended."""
    lists = pilot.app.screen.query(CommandList)
    option = lists.first().highlighted_option if lists else None
    return option is not None and str(option.prompt).startswith(name)


@pytest.mark.slow  # about 5 s: it opens every screen from the palette and by key
async def test_the_command_palette_and_f_keys_reach_every_place() -> None:
    async with FinetuiApp(start_path=HAIKU).run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(pilot.app.screen.query("#separator")))
        await pilot.press("ctrl+p")
        await pilot.press(*"Playground")
        await until(pilot, lambda: palette_offers(pilot, "Playground"))
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.current_mode == "playground")
        await pilot.press("ctrl+p", *"Runs")
        await until(pilot, lambda: palette_offers(pilot, "Runs"))
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.current_mode == "runs")
        await pilot.press("f2")
        await until(pilot, lambda: pilot.app.current_mode == "data")
        await pilot.press("f1")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")
        await pilot.press("escape", "f4")
        await until(pilot, lambda: pilot.app.current_mode == "playground")
