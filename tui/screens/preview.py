"""The preview screen: what a data file parses into, and what is wrong with it."""

from __future__ import annotations

from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Header, ProgressBar, Static
from textual.worker import get_current_worker

from engine import recent
from engine.config import DEFAULT_MODEL, TrainConfig
from engine.data import Cancelled, DataError, DataSpec, DataWarning, Example, Report, scan
from engine.estimate import count_tokens, model_facts
from tui.format import human_bytes
from tui.messages import ExamplesParsed, ScanDone, ScanFailed, ScanProgress, TokensCounted, TokensProgress
from tui.pacing import Pace
from tui.screens.base import FinetuiScreen, display_path, screen_css
from tui.screens.example import ExampleScreen
from tui.screens.train import TrainScreen
from tui.token_previewer import TokenPreviewer
from tui.widgets.example_table import ExampleTable
from tui.widgets.footer import KeysFooter
from tui.widgets.histogram import LengthHistogram

#: Examples kept for the table; the report still covers the whole file.
TABLE_ROWS = 500
#: Seconds between two batches of rows, and between two progress updates.
ROWS_EVERY = 0.05
PROGRESS_EVERY = 0.1


class ScanFeed:
    """Turns the scan's callbacks into a paced stream of messages for the screen.

    Rows go out in batches and progress at most ten times a second, so a
    fast scan can't flood the screen's message queue.
    """

    def __init__(self, post: Callable[[Message], object], is_cancelled: Callable[[], bool]) -> None:
        self.post = post
        self.is_cancelled = is_cancelled
        self.pending: list[Example] = []
        self.rows = Pace(ROWS_EVERY)
        self.progress_pace = Pace(PROGRESS_EVERY)

    def example(self, example: Example) -> None:
        self.pending.append(example)
        if self.rows.ready():
            self.flush()

    def progress(self, done: int, total: int) -> None:
        """Report progress, or stop the scan if the screen has gone.

        The engine checks ``should_stop`` between examples only; this is
        called every megabyte, so even one huge example can't hold a
        cancelled scan.
        """
        if self.is_cancelled():
            raise Cancelled()
        self.flush()
        if done >= total or self.progress_pace.ready():
            self.post(ScanProgress(done, total))

    def flush(self) -> None:
        if self.pending:
            self.post(ExamplesParsed(tuple(self.pending)))
            self.pending = []


class PreviewScreen(FinetuiScreen):
    """Parses ``spec`` in a thread and fills in as results arrive.

    The first examples appear while the scan reads on; the counts, the
    length histogram and the warnings come when it ends. Leaving the screen
    cancels the scan.
    """

    DEFAULT_CSS = screen_css("preview.tcss")
    SCOPED_CSS = False
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the data screen (stops parsing)", id="back"),
        Binding("t", "train", "Train", tooltip="Set up a fine-tune on this file", id="train"),
    ]
    AUTO_FOCUS = "#examples"

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.spec = spec
        self.examples: dict[str, Example] = {}
        self.report: Report | None = None
        """The scan's report, once it has read the whole file."""
        self.error: str | None = None
        """Why the file can't be used, if the scan failed."""
        self.previewer = TokenPreviewer()
        """The example dialog's token previews: one process for this screen, started with it, its tokenizer loaded once."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="summary"):
            yield Static(Content(display_path(self.spec.path)), id="source")
            yield Static("Reading…", id="counts")
            yield Static("", id="tokens")
        yield ProgressBar(id="progress", show_eta=False)
        yield Static(id="error")
        with Vertical(id="examples-panel", classes="panel") as panel:
            panel.border_title = "Examples"
            yield ExampleTable(id="examples")
        with Horizontal(id="details"):
            with Vertical(id="lengths-panel", classes="panel") as lengths:
                lengths.border_title = "Lengths (chars)"
                yield LengthHistogram(id="lengths")
            with VerticalScroll(id="warnings-panel", classes="panel") as warnings:
                warnings.border_title = "Warnings"
                yield Static("…", id="warnings")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.scan_file()
        self.start_previewer()

    def on_unmount(self) -> None:
        self.previewer.close()

    @work(thread=True, exit_on_error=False, group="previewer")
    def start_previewer(self) -> None:
        """Start the token preview process (a fork and an exec), so an example opened later shows its tokens at once."""
        try:
            self.previewer.start()
        except OSError:
            pass  # the screen is closing, or no process can start: the example dialog says why when asked

    @work(thread=True, exclusive=True, exit_on_error=False, group="parse")
    def scan_file(self) -> None:
        """Read the whole file, posting rows, progress and the outcome; touches no widget."""
        worker = get_current_worker()
        feed = ScanFeed(self.post_message, lambda: worker.is_cancelled)
        try:
            report = scan(
                self.spec,
                preview=TABLE_ROWS,
                on_preview=feed.example,
                on_progress=feed.progress,
                should_stop=lambda: worker.is_cancelled,
            )
        except Cancelled:
            return
        except DataError as error:
            feed.flush()
            self.post_message(ScanFailed(str(error)))
            return
        feed.flush()
        note = ""
        try:
            recent.remember(recent.RecentFile(self.spec.path, self.spec.format, self.spec.separator))
        except OSError as error:
            note = f"Could not save the recent files list: {error}"
        self.post_message(ScanDone(report, note))

    def on_examples_parsed(self, message: ExamplesParsed) -> None:
        self.examples.update((str(e.index), e) for e in message.examples)
        self.query_one(ExampleTable).add_examples(message.examples)

    def on_scan_progress(self, message: ScanProgress) -> None:
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)

    def on_scan_done(self, message: ScanDone) -> None:
        report = self.report = message.report
        self.query_one(ProgressBar).display = False
        self.query_one("#source", Static).update(
            Content.from_markup(
                "[b]$path[/b] · $how · $size",
                path=display_path(report.path),
                how=report.describe_format(),
                size=human_bytes(report.file_bytes),
            )
        )
        c = report.chars
        self.query_one("#counts", Static).update(
            Content.from_markup(
                "[b]$examples[/b] examples · train [b]$train[/b] · eval [b]$eval[/b] · chars median $p50, p90 $p90, max $max",
                examples=f"{report.examples:,}",
                train=f"{report.train:,}",
                eval=f"{report.eval:,}",
                p50=f"{c.p50:,}",
                p90=f"{c.p90:,}",
                max=f"{c.max:,}",
            )
        )
        if report.examples > len(report.preview):
            self.query_one("#examples-panel").border_subtitle = f"first {len(report.preview):,} of {report.examples:,}"
        self.query_one(LengthHistogram).bars = tuple(c.histogram)
        self._show_warnings(report)
        self.query_one("#tokens", Static).update(f"Counting tokens for {DEFAULT_MODEL}…")
        self.count_example_tokens()
        if message.note:
            self.notify(message.note, severity="warning")

    def _show_warnings(self, report: Report) -> None:
        panel = self.query_one("#warnings-panel")
        panel.border_title = f"Warnings ({len(report.warnings)})" if report.warnings else "Warnings"
        panel.set_class(bool(report.warnings), "-warn")
        lines = [
            Content.from_markup("[b]$code[/b] ×$count  $text", code=w.code, count=f"{w.count:,}", text=_worded(w))
            for w in report.warnings
        ]
        self.query_one("#warnings", Static).update(Content("\n").join(lines) if lines else "No warnings.")

    @work(thread=True, exclusive=True, exit_on_error=False, group="tokens")
    def count_example_tokens(self) -> None:
        """The examples' lengths in the default model's tokens: what training will see, and what it cuts."""
        worker = get_current_worker()
        facts = model_facts(DEFAULT_MODEL)
        pace = Pace(PROGRESS_EVERY)

        def progress(done: int) -> None:
            if pace.ready():
                self.post_message(TokensProgress(done))

        try:
            tokens = count_tokens(self.spec, facts, TrainConfig().seq_len, on_progress=progress, should_stop=lambda: worker.is_cancelled)
        except (Cancelled, DataError):
            return
        self.post_message(TokensCounted(facts, tokens))

    def on_tokens_progress(self, message: TokensProgress) -> None:
        total = self.report.examples if self.report else 0
        self.query_one("#tokens", Static).update(f"Counting tokens for {DEFAULT_MODEL}… {message.done:,} of {total:,} examples")

    def on_tokens_counted(self, message: TokensCounted) -> None:
        t = message.tokens
        line = Content.from_markup(
            "tokens ($model): median $p50, p90 $p90, max $max",
            model=message.facts.spec,
            p50=f"{'' if t.exact else '≈'}{t.p50:,}",
            p90=f"{t.p90:,}",
            max=f"{t.max:,}",
        )
        if t.cut:
            line += Content.styled(f" · {t.cut:,} over {t.seq_len:,}: cut in training", "$text-warning")
        elif t.split:
            line += Content(f" · {t.split:,} over {t.seq_len:,}: read in parts")
        self.query_one("#tokens", Static).update(line)

    def action_train(self) -> None:
        """Set up training, once the whole file has been read without errors."""
        if self.report is None:
            message = "Wait for the preview to finish reading the file." if self.error is None else "This file can't be used for training."
            self.notify(message, severity="warning")
            return
        self.app.push_screen(TrainScreen(self.spec, self.report))

    def on_scan_failed(self, message: ScanFailed) -> None:
        self.error = message.error
        self.query_one(ProgressBar).display = False
        self.query_one("#counts", Static).update("This file can't be used for training; Esc goes back.")
        error = self.query_one("#error", Static)
        error.border_title = "Error"
        error.update(Content(message.error))
        error.display = True
        self.query_one("#details").display = False
        if self.examples:
            self.query_one("#examples-panel").border_subtitle = "read before the error"

    @on(DataTable.RowSelected, "#examples")
    def open_example(self, event: DataTable.RowSelected) -> None:
        example = self.examples.get(str(event.row_key.value))
        if example is not None:
            self.app.push_screen(ExampleScreen(example, self.spec, self.previewer, list(self.examples.values())))


def _worded(warning: DataWarning) -> str:
    """A data warning in this screen's terms: a suggested separator goes in the data screen's Separator box."""
    text = warning.describe()
    if warning.code == "separator_suggested":
        text += "; put it in the Separator box on the data screen (F2)"
    return text
