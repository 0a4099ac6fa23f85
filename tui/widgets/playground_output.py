"""One model's side of a generation: its text as it streams, then a line on how it ended."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from engine.infer.protocol import Done
from engine.words import counted
from tui.widgets.token_view import visible

#: How a generation ended, in the words the panel uses (``finish_reason`` in the protocol).
REASONS = {
    "eos": "end of text",
    "length": "max tokens",
    "context": "context full",
    "cancelled": "stopped",
}


def format_rate(tokens_per_s: float | None) -> str:
    """Tokens per second as the done line shows it (a function, so snapshot tests can pin it)."""
    return "" if tokens_per_s is None else f"{tokens_per_s:,.1f} tokens/s"


def done_line(done: Done) -> str:
    """A ``Done`` reply in two short lines (a panel is half of 80 columns): size and speed, then how it ended and the seed."""
    reason = done.finish_reason
    said = f"stop at {done.stop!r}" if reason == "stop" else REASONS.get(reason, reason)
    size = " · ".join(p for p in (counted(done.tokens, "token"), format_rate(done.tokens_per_s)) if p)
    return f"{size}\n{said} · seed {done.seed}"


class OutputPanel(Vertical):
    """A bordered panel: state or streamed text on top, the done line under it."""

    DEFAULT_CSS = """
    OutputPanel { width: 1fr; height: 1fr; }
    OutputPanel > VerticalScroll { height: 1fr; }
    OutputPanel .output-text { padding: 0 1; }
    OutputPanel .output-text.-waiting { color: $text-muted; text-style: italic; }
    OutputPanel .output-done { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = title
        self.text = ""
        """What the model generated so far."""
        self.done: Done | None = None
        """The ``Done`` reply, once the model has finished."""
        self.history = ""
        """A chat's earlier turns as this model saw them, shown above its text (chat mode)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=True):
            yield Static(classes="output-text")
        yield Static(classes="output-done", markup=False)

    def wait(self, note: str) -> None:
        """Clear the panel and show ``note`` (waiting for its turn, loading...) in its place."""
        self.text = ""
        self.done = None
        self._set_text(visible(self.history, mark_newlines=False) + note, waiting=not self.history)
        self.query_one(".output-done", Static).update("")

    def stream(self, text: str) -> None:
        """Show ``text``, everything generated so far, and keep its end in view."""
        self.text = text
        shown = visible(self.history + text, mark_newlines=False)
        self._set_text(shown + ("" if text else "…"), waiting=not shown)
        self.query_one(VerticalScroll).scroll_end(animate=False)

    def finish(self, done: Done) -> None:
        self.done = done
        self.stream(done.text)
        if not done.text:
            self._set_text(visible(self.history, mark_newlines=False) + "(nothing generated)", waiting=not self.history)
        self.query_one(".output-done", Static).update(done_line(done))

    def _set_text(self, text: str, waiting: bool) -> None:
        static = self.query_one(".output-text", Static)
        static.update(Content(text))
        static.set_class(waiting, "-waiting")
