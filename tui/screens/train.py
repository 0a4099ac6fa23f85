"""The train screen: the model, the settings (checked as they are typed), an estimate, then launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from engine.config import SECTIONS, ConfigError, DataConfig, LoraConfig, ModelConfig, RunConfig, SettingField, TrainConfig, auto_eval_every, setting, settings
from engine.data import Cancelled, DataSpec, Report
from engine.data.names import data_stem
from engine.errors import FinetuiError, Hint
from engine.estimate import Estimate, ModelFacts, TokenStats, count_tokens, effective_seq_len, estimate_run, model_facts, train_share
from engine.models import ModelError, list_models
from engine.models.check import check_model
from engine.models.probe import probe_model
from engine.plan import GPU_MEMORY_ENV
from engine.runs.lifecycle import check_settings, start_run
from engine.train import defaults
from tui.format import estimate_lines, human_bytes
from tui.messages import TokensCounted, TokensProgress
from tui.pacing import Pace
from tui.screens.base import FinetuiScreen, display_path, screen_css
from tui.screens.dialogs import ConfirmScreen, ErrorScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.tick_box import TickBox

#: Seconds of quiet typing in the model field before its tokenizer is loaded.
MODEL_SETTLE_S = 0.4
#: Seconds between two progress messages while counting tokens.
PROGRESS_EVERY = 0.1
#: How the estimate's lines stand out, by their tone (tui.format.Line).
_TONES = {"": "", "strong": "bold", "warning": "$text-warning", "muted": "$text-muted"}


#: The settings grid's sections, in this order; the model panel and the data screen take the rest.
GRID_SECTIONS = ("train", "lora", "data")
#: The settings on this screen, from ``engine.config``'s declarations: the model panel's, then the grid's.
MODEL_ROW = tuple(s for s in settings() if s.meta.form == "model")
GRID = tuple(sorted((s for s in settings() if s.meta.form == "settings"), key=lambda s: GRID_SECTIONS.index(s.section)))
FORM = MODEL_ROW + GRID
#: The fields whose defaults ``engine.train.defaults`` chooses from the model and the data, by setting path.
RULED = {s.path: s for s in GRID if s.path in defaults.SETTINGS}
_KIND_WORDS = {int: "a whole number", float: "a number"}
#: The help line's words for the one field that is no setting.
NAME_HELP = "the run's name in the runs list; its folder adds the time it started"


def field_id(s: SettingField) -> str:
    """A setting's widget id: its flag's name (``--max-steps``: ``max-steps``), so both front ends say the same."""
    return s.meta.flag.removeprefix("--")


#: The form's settings by widget id, for the help line.
BY_ID = {field_id(s): s for s in FORM}


def _as_text(value: float | int | None) -> str:
    """A setting's value as its field shows it (None: empty, which the field shows as "off", or Eval every's interval)."""
    if value is None:
        return ""
    return format(value, "g") if isinstance(value, float) else str(value)


def worded(error: BaseException) -> str:
    """An error in the form's terms: a bad value names its field's label; a hint says what to tick or set."""
    if isinstance(error, ConfigError):
        s = setting(error.path)
        return error.worded(s.meta.label) if s is not None and s.meta.label else str(error)
    if isinstance(error, FinetuiError) and error.hint is not None:
        return f"{error.message}; {hint_text(error.hint)}"
    return str(error)


def hint_text(hint: Hint) -> str:
    """``tick Trust code if you trust it``, ``set Quant to none ...``: the fix as this form's fields."""
    s = setting(hint.setting)
    if s is None or not s.meta.label or s not in FORM:
        return hint.plain()
    if hint.value is None:
        what = f"change {s.meta.label}"
    elif s.kind is bool:
        what = f"{'tick' if hint.value else 'untick'} {s.meta.label}"
    else:
        what = f"set {s.meta.label} to {hint.value}"
    return f"{what} {hint.when}".strip()


@dataclass(frozen=True)
class _Refusal:
    """The engine refuses a model unless a setting changes: shown on that setting's field while it stands."""

    model: str
    path: str
    value: object
    """The setting's value when refused."""
    fix: object
    """The value that fixes it (the hint's), or None when any change might."""
    text: str

    def stands(self, config: RunConfig) -> bool:
        """Whether ``config`` would be refused again: the same model, the setting not (yet) the fix."""
        if config.model.name != self.model:
            return False
        current = config.value(self.path)
        return current != self.fix if self.fix is not None else current == self.value


@dataclass
class ModelsListed(Message):
    """The names ``finetui models`` would list, for the model field's suggestions."""

    names: list[str]


@dataclass
class RunLaunched(Message):
    run_id: str


@dataclass
class ModelRefused(Message):
    """The engine's model check refuses ``model`` while the setting it hints at is ``value``; or the launch failed so."""

    model: str
    value: object
    error: ModelError


@dataclass
class MemoryPlanned(Message):
    """``python -m engine.plan``'s figures for the settings ``key`` (a ``Plan``'s JSON), or ``{"error": ...}``."""

    key: str
    plan: dict[str, Any]


#: What the GPU memory depends on, by section: the settings ``python -m engine.plan`` is given.
MEMORY_SETTINGS = {
    "model": ("name", "quant", "trust_remote_code"),
    "lora": ("r", "dropout"),
    "train": ("batch_size", "grad_accum", "seq_len", "devices", "checkpointing", "optim", "liger"),
}


#: An optional field left empty: the setting keeps its default (None: off).
_UNSET = object()


class TrainScreen(FinetuiScreen):
    """Set up a fine-tune of ``spec`` (already previewed: ``report``) and launch it detached.

    The fields are made from ``engine.config``'s declarations (``FORM``).
    Every keystroke rebuilds the ``RunConfig`` the run would save; a value
    the config refuses marks the field its ``ConfigError`` names by path and
    blocks the launch, with the reason worded by the field's label. The
    estimate follows the settings. A setting declared with ``confirm``
    (trusting a model's code) is confirmed before the run starts.
    """

    DEFAULT_CSS = screen_css("train.tcss")
    SCOPED_CSS = False
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the preview"),
        Binding("ctrl+s", "launch", "Launch", tooltip="Start the run in the background", id="launch"),
    ]
    AUTO_FOCUS = "#model"

    def __init__(self, spec: DataSpec, report: Report) -> None:
        super().__init__()
        self.spec = spec
        self.report = report
        self.facts: ModelFacts | None = None
        self.tokens: TokenStats | None = None
        self.config: RunConfig | None = None
        """The config as the form stands, or None while a field is invalid."""
        self.problem = ""
        self._model_timer: Timer | None = None
        self.chosen: dict[str, defaults.Choice] = {}
        """The defaults chosen from the model and the data (``engine.train.defaults``), by setting path."""
        self.overridden: set[str] = set()
        """Chosen settings the user has typed over: theirs from then on."""
        self._shown: dict[str, str] = {}
        """Field id -> the text this screen last put in it: a change to anything else is the user's."""
        self.refusal: _Refusal | None = None
        """The engine's last refusal of a model, hinting at a setting; shown while it stands."""
        self.memory: MemoryPlanned | None = None
        """The GPU memory plan of the settings ``_memory_key`` names, once it is in."""
        self._memory_key = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._data_line(), id="train-data")
        with Vertical(id="model-panel", classes="panel") as panel:
            panel.border_title = "Model"
            with Horizontal(classes="form-row"):
                for s in MODEL_ROW:
                    yield self._widget(s)
            yield Static("…", id="model-facts")
        with Horizontal(id="train-body"):
            with Grid(id="settings", classes="panel") as settings:
                settings.border_title = "Settings"
                yield Label("Name", classes="field-label")
                yield Input(data_stem(self.spec.path), id="name", compact=True, classes="wide")
                for s in GRID:
                    yield Label(s.meta.label, classes="field-label")
                    yield self._widget(s)
            with Vertical(id="estimate-panel", classes="panel") as estimate:
                estimate.border_title = "Estimate"
                yield Static("Counting tokens…", id="estimate")
        yield Static("", id="defaults", markup=False)
        with Vertical(id="train-foot"):  # docked: the focused field's help and a bad value's reason, however far the form is scrolled
            yield Static("", id="field-help")
            with Horizontal(id="train-actions"):
                yield Static("", id="train-status")
                yield Button("Launch", id="launch", variant="primary", compact=True)
        yield KeysFooter()

    def _widget(self, s: SettingField) -> Widget:
        """The field for a setting, made from its declaration: a checkbox, a choice, or text; its help as the tooltip."""
        if s.kind is bool:
            return TickBox(s.meta.label if s.meta.form == "model" else "", value=bool(s.default), id=field_id(s), compact=True, tooltip=s.meta.help)
        if s.meta.choices:
            return Select([(c, c) for c in s.meta.choices], value=s.default, allow_blank=False, id=field_id(s), compact=True, tooltip=s.meta.help)
        self._shown[field_id(s)] = _as_text(s.default)
        number = s.kind in (int, float)
        return Input(
            self._shown[field_id(s)],
            placeholder=("auto" if s.path == "train.eval_steps" else "off") if s.optional else s.meta.help,  # auto: shown as its interval once counted
            id=field_id(s),
            compact=True,
            type=("integer" if s.kind is int else "number") if number else "text",
            select_on_focus=number,
            tooltip=s.meta.help,
        )

    def _data_line(self) -> Content:
        r = self.report
        line = Content.from_markup(
            "[b]$path[/b] · $how · $examples examples (train $train, eval $eval)",
            path=display_path(r.path),
            how=r.describe_format(),
            examples=f"{r.examples:,}",
            train=f"{r.train:,}",
            eval=f"{r.eval:,}",
        )
        problem = r.training_problem()
        return line if problem is None else Content("\n").join([line, Content.styled(f"⚠ {problem}", "$text-warning")])

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Say what the focused field sets: its setting's help, as ``finetui train --help`` words it."""
        s = BY_ID.get(event.widget.id or "")
        label, words = (s.meta.label, s.meta.help) if s is not None else ("Name", NAME_HELP) if event.widget.id == "name" else ("", "")
        help_line = self.query_one("#field-help", Static)
        help_line.update(Content.from_markup("[b]$label[/b]: $words", label=label, words=words) if label else "")

    def on_mount(self) -> None:
        self.list_models()
        self.load_model_facts(self.query_one("#model", Input).value)
        self.revalidate()

    @work(thread=True, exit_on_error=False, group="models")
    def list_models(self) -> None:
        """The model names on disk, for suggestions; reads folders only."""
        self.post_message(ModelsListed([m.name for m in list_models()]))

    def on_models_listed(self, message: ModelsListed) -> None:
        """Complete names as they are typed (→ accepts), and say which models are on disk."""
        self.query_one("#model", Input).suggester = SuggestFromList(message.names, case_sensitive=False)
        self.query_one("#model-panel").border_subtitle = "on disk: " + ", ".join(message.names) if message.names else ""

    @on(Input.Changed, "#model")
    def model_typed(self, event: Input.Changed) -> None:
        """Load the model's facts once typing pauses, not on every key; until then the last ones stand."""
        if self._model_timer is not None:
            self._model_timer.stop()
        self._model_timer = self.set_timer(MODEL_SETTLE_S, lambda: self.load_model_facts(event.value))
        self.revalidate()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tokens")
    def load_model_facts(self, spec: str) -> None:
        """Find the model on disk and count the data in its tokens; posts the result, touches no widget."""
        worker = get_current_worker()
        facts = model_facts(spec.strip() or ModelConfig().name)
        seq_len = self.config.train.seq_len if self.config else TrainConfig().seq_len
        pace = Pace(PROGRESS_EVERY)

        def progress(done: int) -> None:
            if pace.ready():
                self.post_message(TokensProgress(done))

        try:
            tokens = count_tokens(self.spec, facts, seq_len, on_progress=progress, should_stop=lambda: worker.is_cancelled)
        except Cancelled:
            return
        if worker.is_cancelled:
            return
        self.post_message(TokensCounted(facts, tokens))
        try:  # the launch's own model check, untrusted, so that the fix is offered (or Launch disabled) before Ctrl+S
            resolved = check_model(facts.spec, trust_remote_code=False)
            if resolved is not None and not worker.is_cancelled:  # another model was typed meanwhile: its own check follows
                probe_model(resolved)  # a child process: this one never imports transformers
        except ModelError as error:
            self.post_message(ModelRefused(facts.spec, False if error.hint is not None else facts.spec, error))

    def on_tokens_progress(self, message: TokensProgress) -> None:
        self.query_one("#estimate", Static).update(f"Counting tokens… {message.done:,} of {self.report.examples:,} examples")

    def on_tokens_counted(self, message: TokensCounted) -> None:
        self.facts, self.tokens = message.facts, message.tokens
        self.query_one("#model-facts", Static).update(self._facts_line(message.facts))
        self.revalidate()

    @staticmethod
    def _facts_line(facts: ModelFacts) -> Content:
        if facts.path is None:
            return Content.styled(facts.note, "$text-warning")
        parts = []
        if facts.params:
            parts.append(f"{facts.params / 1e6:,.1f}M parameters")
        if facts.context:
            parts.append(f"context {facts.context:,} tokens")
        parts.append(display_path(facts.path))
        line = Content(" · ".join(parts))
        return line if not facts.note else Content("\n").join([line, Content.styled(facts.note, "$text-warning")])

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def revalidate(self) -> None:
        """Rebuild the config from the form; mark the field a bad value is in, found by the error's setting path."""
        for s in FORM:
            self.query_one(f"#{field_id(s)}").remove_class("-invalid")
        self.config, self.problem = None, ""
        bad: str | None = None
        try:
            self.config = self._build()
            check_settings(self.config)  # what this machine can't do: more CPU processes than cores, a tracker not installed
        except ConfigError as error:
            self.config = None
            bad, self.problem = error.path, worded(error)
        except (ArithmeticError, ValueError) as error:  # a number past what the estimate can hold: shown, never raised
            self.problem = f"a setting is out of range ({error})"
        refusal = self.refusal
        if refusal is not None and self.config is not None and refusal.stands(self.config):
            bad, self.config, self.problem = refusal.path, None, refusal.text
        facts = self.facts
        unusable = facts is not None and facts.path is None and not facts.downloadable
        if unusable and self.config and facts is not None and facts.spec == self.config.model.name:
            bad, self.config, self.problem = "model.name", None, facts.note
        marked = setting(bad) if bad else None
        if marked is not None and marked in FORM:
            self.query_one(f"#{field_id(marked)}").add_class("-invalid")
        status = self.query_one("#train-status", Static)
        status.update(self.problem or "Ctrl+S launches; it trains in the background, even if you quit.")
        status.set_class(bool(self.problem), "-error")
        self.query_one("#launch", Button).disabled = bool(self.problem)
        self._show_estimate()
        self._plan_memory()

    def _note_overrides(self) -> None:
        """A chosen setting's field that no longer holds what this screen put there is the user's from now on.

        The run's length is one choice: epochs typed over also drops the
        chosen step cap, which would otherwise end the run first.
        """
        for path, s in RULED.items():
            if path not in self.overridden and self.query_one(f"#{field_id(s)}", Input).value != self._shown[field_id(s)]:
                self.overridden.add(path)
                if path == "train.epochs" and "train.max_steps" not in self.overridden:
                    self.overridden.add("train.max_steps")
                    self._fill(RULED["train.max_steps"], "")

    def _fill(self, s: SettingField, text: str) -> None:
        widget = self.query_one(f"#{field_id(s)}", Input)
        self._shown[field_id(s)] = text
        if widget.value != text:
            widget.value = text

    def _choose_defaults(self, config: RunConfig) -> RunConfig:
        """Choose the defaults for the form's model and data, show them where the user has not typed, and say why."""
        if self.tokens is None or self.facts is None:
            return config
        share = train_share(self.report)
        self.chosen = defaults.choose(self.facts.params, defaults.data_size(config, self.tokens, share), gpu=defaults.has_gpu())
        resolved = defaults.apply(config, self.chosen, self.overridden)
        why: dict[str, str] = {}
        for path, s in RULED.items():
            if path not in self.overridden:
                self._fill(s, _as_text(resolved.value(path)))
            why[path] = "yours" if path in self.overridden else self.chosen[path].why
        lines = [
            f"Learn rate ← {why['train.lr']}",
            f"Epochs ← {why['train.epochs']}",
            f"Max steps ← {why['train.max_steps']} · LoRA r ← {why['lora.r']}, α ← {why['lora.alpha']}",
        ]
        self.query_one("#defaults", Static).update("\n".join(lines))
        return resolved

    def _value(self, s: SettingField) -> Any:
        """A field's value as its setting's type; ``_UNSET`` for an optional one left empty; ``ConfigError`` for text that isn't one."""
        widget = self.query_one(f"#{field_id(s)}")
        if isinstance(widget, Checkbox):
            return widget.value
        if isinstance(widget, Select):
            return str(widget.value)
        assert isinstance(widget, Input)
        raw = widget.value.strip()
        if not raw and s.optional:
            return _UNSET
        if s.kind is str:
            return raw
        try:
            return s.kind(raw)
        except ValueError:
            need = _KIND_WORDS[s.kind]
            raise ConfigError(s.path, f"{s.path} must be {need}, not {raw!r}", "wrong_type", need, raw) from None

    def _build(self) -> RunConfig:
        self._note_overrides()
        values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for s in FORM:
            value = self._value(s)
            if value is not _UNSET:
                values[s.section][s.name] = value
        spec = self.spec
        name = self.query_one("#name", Input).value.strip() or data_stem(spec.path)
        config = RunConfig(
            name=name,
            data=DataConfig(str(spec.path), format=spec.format, separator=spec.separator, mapping=spec.mapping, **values["data"]),
            model=ModelConfig(**values["model"]),
            lora=LoraConfig(**values["lora"]),
            train=TrainConfig(**values["train"]),
        )
        return self._choose_defaults(config)

    def _show_estimate(self) -> None:
        view = self.query_one("#estimate", Static)
        if self.tokens is None or self.facts is None:
            return
        if self.config is None:
            view.update("Fix the setting in red for an estimate.")
            return
        if self.tokens.seq_len != effective_seq_len(self.config.train.seq_len, self.facts):
            self.load_model_facts(self.config.model.name)
            return
        share = train_share(self.report)
        estimate = estimate_run(self.config, self.tokens, share, self.facts)
        self.query_one("#eval-steps", Input).placeholder = f"auto (every {auto_eval_every(estimate.steps)})"
        view.update(self._estimate_text(self.tokens, estimate))

    def _estimate_text(self, tokens: TokenStats, estimate: Estimate) -> Content:
        asked = self.config.train.seq_len if self.config is not None else tokens.seq_len
        lines = [Content.styled(line.text, _TONES[line.tone]) for line in estimate_lines(tokens, estimate, asked)]
        memory = self._memory_line()
        if memory:
            lines.append(Content.styled(memory, "$text-muted" if self._memory_warning() is None else "$text-warning"))
        return Content("\n").join(lines)

    def _plan_memory(self) -> None:
        """Plan the GPU memory whenever what it depends on changes: where a GPU will train (or ``$FINETUI_GPU_MEMORY`` says one)."""
        if self.config is None or not (defaults.has_gpu() or os.environ.get(GPU_MEMORY_ENV)):
            return
        sections = {name: {field: getattr(getattr(self.config, name), field) for field in fields} for name, fields in MEMORY_SETTINGS.items()}
        key = json.dumps(sections, sort_keys=True)
        if key != self._memory_key:
            self._memory_key = key
            self.plan_memory(key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="memory")
    def plan_memory(self, key: str) -> None:
        """Run ``python -m engine.plan`` (it imports torch, which this process never does) and post its figures; a newer plan kills it."""
        worker = get_current_worker()
        process = subprocess.Popen([sys.executable, "-m", "engine.plan", key], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        while process.poll() is None:
            if worker.is_cancelled:
                process.kill()
                process.wait()
                return
            time.sleep(0.05)
        out = process.stdout.read() if process.stdout else ""
        try:
            plan = json.loads(out)
        except ValueError:
            plan = {"error": f"the memory plan ended with code {process.returncode}"}
        self.post_message(MemoryPlanned(key, plan if isinstance(plan, dict) else {"error": "the memory plan said nothing"}))

    def on_memory_planned(self, message: MemoryPlanned) -> None:
        if message.key == self._memory_key:
            self.memory = message
            self._show_estimate()

    def _current_memory(self) -> dict[str, Any] | None:
        return self.memory.plan if self.memory is not None and self.memory.key == self._memory_key else None

    def _memory_line(self) -> str:
        """GPU memory: what the run needs of the GPU's free memory, or why there is no figure."""
        plan = self._current_memory()
        if plan is None:
            return ""
        if "error" in plan or plan.get("gpu") is None:
            return f"GPU memory: no plan ({plan.get('error', 'no GPU found')})"
        return self._memory_warning() or f"GPU memory: {self._need(plan)} of {human_bytes(plan['gpu']['free'])} free"

    @staticmethod
    def _need(plan: dict[str, Any]) -> str:
        part = "fsdp" if plan["strategy"] == "fsdp" else "single"
        return human_bytes(plan[part]["total"]) + (" a device" if plan["devices"] > 1 else "")

    def _memory_warning(self) -> str | None:
        """Why the run won't fit the GPU, or None (it fits, or there is no plan)."""
        plan = self._current_memory()
        if plan is None or plan.get("fits") is not False:
            return None
        return f"⚠ needs {self._need(plan)} of GPU memory; {plan['gpu']['name']} has {human_bytes(plan['gpu']['free'])} free: see finetui plan"

    @on(Button.Pressed, "#launch")
    def action_launch(self) -> None:
        """Start the run, then show it on the runs dashboard; a setting declared to need it is confirmed first."""
        if self.config is None:
            self.notify(self.problem or "Fix the settings first.", severity="error")
            return
        if not self.chosen:
            self.notify("Wait a moment: the defaults are chosen once the data's tokens are counted.", severity="warning")
            return
        config = self.config
        risky = [s for s in FORM if s.meta.confirm and config.value(s.path)]
        too_big = self._memory_warning()
        if not risky and too_big is None:
            self._start(config)
            return
        message = "\n\n".join([*(s.meta.confirm for s in risky), *([too_big] if too_big else []), f"Model: {config.model.name}"])
        title = "Start with " + ", ".join(s.meta.label for s in risky) + " on?" if risky else "Start a run that won't fit the GPU?"
        self.app.push_screen(ConfirmScreen(title, message, "Start the run"), lambda yes: self._start(config) if yes else None)

    def _start(self, config: RunConfig) -> None:
        self.query_one("#launch", Button).disabled = True
        self.query_one("#train-status", Static).update("Starting the run…")
        self.launch(config)

    @work(thread=True, exit_on_error=False, group="launch")
    def launch(self, config: RunConfig) -> None:
        """Create the run folder and its detached process (a fork and an exec: quick, but not UI work)."""
        try:
            run = start_run(config)
        except ModelError as error:  # the engine's model check: a setting may fix it, shown on its field
            path = error.hint.setting if error.hint is not None else "model.name"
            self.post_message(ModelRefused(config.model.name, config.value(path), error))
            return
        except ConfigError:  # this machine changed since the form was checked (a tracker uninstalled): the form says how
            self.app.call_from_thread(self.revalidate)
            return
        except OSError as error:  # a runs folder that can't be written
            self.app.call_from_thread(self.app.push_screen, ErrorScreen("Could not start the run", str(error)))
            self.app.call_from_thread(self.revalidate)
            return
        self.post_message(RunLaunched(run.id))

    def on_model_refused(self, message: ModelRefused) -> None:
        """A hinted refusal marks its setting's field while it stands; any other opens a dialog."""
        hint = message.error.hint
        if hint is not None and (s := setting(hint.setting)) is not None and s in FORM:
            self.refusal = _Refusal(message.model, hint.setting, message.value, hint.value, worded(message.error))
            self.revalidate()
            return
        if hint is None:  # the model itself: refused until another is chosen
            self.refusal = _Refusal(message.model, "model.name", message.model, None, worded(message.error))
            self.revalidate()
            return
        self.app.push_screen(ErrorScreen("Could not start the run", worded(message.error)))
        self.revalidate()

    def on_run_launched(self, message: RunLaunched) -> None:
        self.notify(f"Run {message.run_id} started.", title="Training")
        self.revalidate()
        self.query_one("#train-status", Static).update(f"Run {message.run_id} started; F3 lists the runs.")
        self.app.open_run(message.run_id)  # type: ignore[attr-defined]
