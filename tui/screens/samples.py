"""A run's Samples view (s on its page): what baseline and custom wrote on held-out examples, worse ones first."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Header

from engine.runs.events import SampleRates
from engine.runs.store import BrokenRun
from engine.train.samples import Sample, SamplesUnreadable, read_samples
from tui.run_feed import run_by_id
from tui.screens.base import FinetuiScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.samples_view import SamplesView

NONE_YET = "No samples: they are written when the run finishes (runs from before samples have none)."


@dataclass
class SamplesRead(Message):
    """The run's samples and rates as read from its folder, or why they could not be."""

    samples: list[Sample] | None
    rates: SampleRates | None
    error: str | None = None


class SamplesScreen(FinetuiScreen):
    """The samples of one run, read from ``samples.jsonl`` and ``metrics.json`` in a thread worker."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", tooltip="Back to the run's page", id="samples-back")]
    AUTO_FOCUS = "SamplesView"

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.sub_title = f"{run_id} · samples"

    def compose(self) -> ComposeResult:
        yield Header()
        yield SamplesView(id="samples")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exit_on_error=False, group="samples-read")
    def _read(self) -> None:
        try:
            run = run_by_id(self.run_id)
            samples = read_samples(run)
            metrics = run.metrics()
        except (SamplesUnreadable, BrokenRun, OSError, LookupError) as error:
            self.post_message(SamplesRead(None, None, str(error)))
            return
        self.post_message(SamplesRead(samples, metrics.samples if metrics else None))

    def on_samples_read(self, message: SamplesRead) -> None:
        view = self.query_one(SamplesView)
        if message.error is not None:
            view.say(f"Can't read the samples: {message.error}")
        elif message.samples is None:
            view.say(NONE_YET)
        else:
            view.show(message.samples, message.rates)
