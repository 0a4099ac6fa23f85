"""One run's page: status and progress, the loss chart, the scorecard and the live log.

The page keeps no state of its own that the files don't have: it asks the
app's run watcher to follow the run, which replays ``events.jsonl`` from
the start and then follows it by byte offset; the page renders each
snapshot's new events. Quitting the TUI while a run trains and opening the
run again shows the same history and goes on streaming.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Header, Label, Log, ProgressBar, Static

from engine.runs.events import DURING, EvalEvent, PhaseEvent, RunEvent, StepEvent
from engine.runs.lifecycle import RunStateError, remove_run, resume_run
from engine.runs.process import cancel
from engine.runs.status import ACTIVE, RESUMABLE
from tui.format import format_event, overfit_note, shown, step_summary
from tui.run_feed import RunDetail, RunsSnapshot, run_by_id
from tui.run_watch import RunsApp, RunWatcher
from tui.screens.base import FinetuiScreen, display_path, screen_css
from tui.screens.dialogs import ConfirmScreen, ErrorScreen
from tui.screens.export import ExportScreen
from tui.screens.samples import SamplesScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.loss_chart import LossChart, legend
from tui.widgets.scorecard import Scorecard

#: Log lines kept on the page; the file keeps them all.
LOG_LINES = 20_000


@dataclass
class RunActionDone(Message):
    """A cancel, resume or delete went through; ``text`` says what happened."""

    text: str


@dataclass
class RunActionFailed(Message):
    """The engine refused an action or it failed; shown as a dialog."""

    title: str
    error: str


class RunActionsScreen(FinetuiScreen):
    """Cancel, resume, delete and the playground, shared by the runs list and a run's page.

    Each action first checks the state the screen last read and explains a
    refusal in a dialog; the engine checks again in a thread worker (the
    state may have moved), and its answer comes back as a message. After
    an action the app's run watcher reads the files again at once.
    """

    DEFAULT_CSS = screen_css("runs.tcss")  # the dashboard's and a run page's
    SCOPED_CSS = False

    @property
    def finetui(self) -> RunsApp:
        return cast(RunsApp, self.app)

    @property
    def watcher(self) -> RunWatcher:
        return self.finetui.run_watcher

    def ask_cancel(self, run_id: str, state: str) -> None:
        if state not in ACTIVE:
            self.app.push_screen(
                ErrorScreen("Nothing to cancel", f"Run {run_id} is {state}: only queued or training runs can be cancelled.")
            )
            return
        self.app.push_screen(
            ConfirmScreen(
                "Cancel this run?",
                f"Run {run_id} stops after saving a checkpoint; r resumes it later from there.",
                "Cancel it",
            ),
            lambda yes: self._cancel(run_id) if yes else None,
        )

    def resume(self, run_id: str, state: str) -> None:
        if state not in RESUMABLE:
            self.app.push_screen(
                ErrorScreen("Can't resume", f"Run {run_id} is {state}: only failed or cancelled runs can be resumed.")
            )
            return
        self._resume(run_id)

    def ask_delete(self, run_id: str, state: str) -> None:
        if state in ACTIVE:
            self.app.push_screen(ErrorScreen("Can't delete", f"Run {run_id} is {state}: cancel it first (c)."))
            return
        self.app.push_screen(
            ConfirmScreen(
                "Delete this run?",
                f"Run {run_id} and its folder go for good: adapter, checkpoints, scorecard and log.",
                "Delete it",
            ),
            lambda yes: self._delete(run_id) if yes else None,
        )

    def playground(self, run_id: str, state: str) -> None:
        if state != "ready":
            self.app.push_screen(
                ErrorScreen("Not ready", f"Run {run_id} is {state}: the playground needs a Ready run, with its adapter.")
            )
            return
        self.finetui.open_playground(run_id)

    @work(thread=True, exit_on_error=False, group="run-action")
    def _cancel(self, run_id: str) -> None:
        """Signal the training process (or mark a run that never started); not UI work."""
        try:
            status = cancel(run_by_id(run_id))
        except OSError as error:
            self.post_message(RunActionFailed("Could not cancel", f"Run {run_id}: {error}"))
            return
        if status.state == "cancelled":
            self.post_message(RunActionDone(f"Run {run_id} cancelled."))
        else:
            self.post_message(RunActionDone(f"Run {run_id} is stopping: it saves a checkpoint, then shows as Cancelled."))

    @work(thread=True, exit_on_error=False, group="run-action")
    def _resume(self, run_id: str) -> None:
        """Start the run's process again (a fork and an exec), from its last checkpoint."""
        try:
            run = resume_run(run_by_id(run_id))
        except RunStateError as error:
            self.post_message(RunActionFailed("Can't resume", str(error)))
            return
        except OSError as error:
            self.post_message(RunActionFailed("Could not resume", f"Run {run_id}: {error}"))
            return
        checkpoint = run.last_checkpoint()
        where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint yet)"
        self.post_message(RunActionDone(f"Run {run_id} resumed {where}."))

    @work(thread=True, exit_on_error=False, group="run-action")
    def _delete(self, run_id: str) -> None:
        """Remove the run folder; a big adapter and checkpoints take a moment."""
        try:
            remove_run(run_by_id(run_id))
        except RunStateError as error:
            self.post_message(RunActionFailed("Can't delete", str(error)))
            return
        except OSError as error:
            self.post_message(RunActionFailed("Could not delete", f"Run {run_id}: {error}"))
            return
        self.post_message(RunActionDone(f"Run {run_id} deleted."))

    def on_run_action_done(self, message: RunActionDone) -> None:
        self.notify(message.text, title="Runs")
        self.watcher.poke()

    def on_run_action_failed(self, message: RunActionFailed) -> None:
        self.app.push_screen(ErrorScreen(message.title, message.error))
        self.watcher.poke()


class RunLog(Log):
    """The run's events, one line each, as ``finetui logs`` prints them.

    A ``Log`` renders only the lines on screen, so replaying a long history
    costs little; lines are not wrapped, so more of it fits, and ←/→ reach
    the end of a long step line (its figures are also in the progress line).
    It is anchored (Textual's ``Widget.anchor``): it shows its end as lines
    come and as the page around it is laid out again, as when a failure
    reason grows the page's head, until the user scrolls up; back at the
    end, it follows again.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=LOG_LINES)

    def on_mount(self) -> None:
        self.anchor()

    def write_events(self, events: Iterable[RunEvent]) -> None:
        """Add lines; the anchor, not the write, decides whether the end shows."""
        self.write_lines((format_event(event) for event in events), scroll_end=False)


class RunScreen(RunActionsScreen):
    """A run's page, rendered from the run watcher's snapshots while it is open."""

    BINDINGS = [
        Binding("c", "cancel_run", "Cancel", tooltip="Stop the run; it saves a checkpoint first", id="run-cancel"),
        Binding("r", "resume_run", "Resume", tooltip="Continue a failed or cancelled run", id="run-resume"),
        Binding("p", "playground", "Play", tooltip="Try this run's model (Ready runs)", id="run-playground"),
        Binding("s", "samples", "Samples", tooltip="What baseline and custom wrote on held-out examples, worse first", id="run-samples"),
        Binding("e", "export", "Export", tooltip="Export a Ready run: merged weights, adapter or GGUF, checked against the run", id="run-export"),
        Binding("escape", "app.pop_screen", "Runs", tooltip="Back to the list of runs", id="run-back"),
    ]
    AUTO_FOCUS = "#run-log"

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.sub_title = run_id
        self.following = False
        """Whether the watcher reads this run for the page (until the page closes or the run can't be read)."""
        self.shown = 0
        """Events of the run's detail already on the page."""
        self.log_offset = 0
        """Byte offset in ``events.jsonl`` up to which the page has shown events."""
        self.read_at = 0.0
        """When the read behind the last snapshot shown began (``time.monotonic()``)."""
        self.state: str | None = None
        """The run's state at the last read; None before the first."""
        self.losses: dict[int, float] = {}
        """Train loss by step; a resumed run logs some steps again, the newest value wins."""
        self.evals: dict[str, float] = {}
        self.curve: dict[int, float] = {}
        """Eval loss on the eval sample by step, scored during training; the newest value of a step wins."""
        """Eval loss by ``which`` (baseline, custom)."""
        self.last_step: StepEvent | None = None
        self.phase: PhaseEvent | None = None
        """The latest phase the run entered: after its last step it scores the custom model and writes samples for minutes."""
        self.has_metrics = False
        """Whether the scorecard is shown."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="run-head"):
            with Horizontal(id="run-title-row"):
                yield Label(id="run-name")
                yield Label(id="run-state")
            yield Static(id="run-source", markup=False)
            with Horizontal(id="run-progress-row"):
                yield ProgressBar(total=100, show_eta=False, id="run-bar")
                yield Static(id="run-step", markup=False)
            yield Static(id="run-reason", markup=False)
        with Horizontal(id="run-panels"):
            with Vertical(id="run-chart-panel", classes="panel") as chart:
                chart.border_title = "Loss"
                yield LossChart(id="run-chart")
            with Vertical(id="run-score-panel", classes="panel") as score:
                score.border_title = "Scorecard"
                yield Scorecard(id="run-scorecard")
        with Vertical(id="run-log-panel", classes="panel") as log:
            log.border_title = "Log"
            yield RunLog(id="run-log")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.watcher.signal.subscribe(self, self._show)
        self.following = True
        self.watcher.follow(self.run_id)

    def on_unmount(self) -> None:
        self._stop_following()

    def on_screen_resume(self) -> None:
        self.watcher.poke()

    def _stop_following(self) -> None:
        if self.following:
            self.following = False
            self.watcher.unfollow(self.run_id)

    def _show(self, snapshot: RunsSnapshot) -> None:
        """Render the run as the snapshot has it: new log lines and chart points, the head, the scorecard."""
        detail = snapshot.details.get(self.run_id)
        if detail is None or not self.following:
            return
        if detail.gone:
            self._stop_following()
            self.notify(f"run {self.run_id} no longer exists", severity="warning", title="Runs")
            if self.is_active:
                self.app.pop_screen()
            return
        if detail.error is not None or detail.status is None:
            self._stop_following()  # say why once, not every tick
            self.app.push_screen(
                ErrorScreen("Can't read this run", f"{shown(detail.error)}\n\nThe page stopped following it; Esc, then Enter, reads it again.")
            )
            return
        self.read_at = snapshot.read_at
        self.log_offset = detail.offset
        self.state = detail.status.state
        self._add_events(detail.events[self.shown :])
        self.shown = len(detail.events)
        if detail.metrics is not None and not self.has_metrics:
            self.query_one(Scorecard).metrics = detail.metrics
            self.has_metrics = True
        row = next((row for row in snapshot.rows if row.id == self.run_id), None)
        self._show_head(detail, row.after if row is not None else None)

    def _add_events(self, events: tuple[RunEvent, ...]) -> None:
        if not events:
            return
        self.query_one(RunLog).write_events(events)
        for event in events:
            if isinstance(event, StepEvent):
                self.losses[event.step] = event.loss
                self.last_step = event
            elif isinstance(event, PhaseEvent):
                self.phase = event
            elif isinstance(event, EvalEvent) and event.figures.loss is not None and event.which == DURING and event.step is not None:
                self.curve[event.step] = event.figures.loss
            elif isinstance(event, EvalEvent) and event.figures.loss is not None:
                self.evals[event.which] = event.figures.loss
        chart = self.query_one(LossChart)
        chart.points = tuple(sorted(self.losses.items()))
        chart.evals = self._eval_points()
        chart.curve = tuple(sorted(self.curve.items()))
        self.query_one("#run-chart-panel").border_subtitle = legend(chart.series) if chart.points else ""

    def _eval_points(self) -> tuple[tuple[int, float], ...]:
        """The baseline before the first step, the custom model after the last."""
        if not self.losses:
            return ()
        where = {"baseline": 0, "custom": max(self.losses)}
        return tuple((where[which], loss) for which, loss in self.evals.items() if which in where)

    def _show_head(self, detail: RunDetail, after: str | None) -> None:
        """Name, state, source, progress and what the run does now (its phase, or the run a queued one waits for); then any note."""
        status = detail.status
        assert status is not None
        self.query_one("#run-name", Label).update(Text(shown(detail.name), style="bold"))  # Text: a name is never markup
        badge = self.query_one("#run-state", Label)
        badge.update(status.state.capitalize())
        badge.set_classes(f"-{status.state}")
        self.query_one("#run-source", Static).update(shown(f"model {detail.model} · data {display_path(Path(detail.data))}"))
        step = self.last_step
        progress = 1.0 if status.state == "ready" else (step.progress if step and step.progress is not None else 0.0)
        self.query_one(ProgressBar).update(total=100, progress=100 * progress)
        self.query_one("#run-step", Static).update(shown(step_summary(status.state, step, self.phase, after)))
        reason = self.query_one("#run-reason", Static)
        overfit = overfit_note(detail.metrics.train) if status.state == "ready" and detail.metrics is not None else None
        reason.display = status.state in ("failed", "broken") or (status.state == "ready" and bool(status.reason or overfit))
        reason.set_class(status.state == "ready", "-note")
        if status.state == "failed":
            reason.update(shown(f"Failed: {status.reason or 'no reason recorded'}. r resumes it from its last checkpoint."))
        elif status.state == "broken":
            reason.update(shown(f"Broken: {status.reason}. It can't be resumed; d on the runs list deletes it."))
        elif status.state == "ready":
            notes = [f"Ready, {status.reason}." if status.reason else "", overfit or ""]
            reason.update(shown("\n".join(note for note in notes if note)))

    def action_cancel_run(self) -> None:
        if self.state is not None:
            self.ask_cancel(self.run_id, self.state)

    def action_resume_run(self) -> None:
        if self.state is not None:
            self.resume(self.run_id, self.state)

    def action_samples(self) -> None:
        self.app.push_screen(SamplesScreen(self.run_id))

    def action_export(self) -> None:
        if self.state is None:
            return
        if self.state != "ready":
            self.app.push_screen(ErrorScreen("Not ready", f"Run {self.run_id} is {self.state}: only a Ready run can be exported."))
            return
        self.app.push_screen(ExportScreen(self.run_id))

    def action_playground(self) -> None:
        if self.state is not None:
            self.playground(self.run_id, self.state)
