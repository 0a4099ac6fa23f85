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


#: How the user's own messages stand out in a chat's transcript.
USER_STYLE = "bold $text-accent"


class OutputPanel(Vertical):
    """A bordered panel: state or streamed text on top, the done line under it; in chat mode, the chat so far above them.

    A chat shows as one: each of the user's messages (``› …``) the moment
    it is sent, then this model's answer streaming under it.
    """

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
        self.exchanges: list[tuple[str, str]] = []
        """A chat's earlier turns as this model saw them, shown above its text (chat mode): each user message and this model's answer."""
        self.asked: str | None = None
        """The user's message being answered (chat mode), shown under the earlier turns at once."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=True):
            yield Static(classes="output-text")
        yield Static(classes="output-done", markup=False)

    @property
    def history(self) -> str:
        """The chat's earlier turns as plain text: ``› message``, then the answer, each exchange ending in a blank line."""
        return "".join(f"› {asked}\n{answer}\n\n" for asked, answer in self.exchanges)

    def ask(self, message: str) -> None:
        """Show the user's ``message`` under the chat so far, before any answer: it was sent."""
        self.asked = message
        self.wait("waiting for the model…")

    def answered(self) -> None:
        """The message being answered and this model's answer join the chat (both models' answers are in)."""
        if self.asked is not None and self.done is not None:
            self.exchanges.append((self.asked, self.done.text))
        self.asked = None
        self._set_text(self._chat(), waiting=False)

    def forget(self, note: str) -> None:
        """A new chat: no turns, ``note`` in their place."""
        self.exchanges, self.asked = [], None
        self.wait(note)

    def _chat(self) -> Content:
        """The chat so far as this model saw it, and the message being answered, if any; empty outside a chat."""
        turns = [*self.exchanges, *([(self.asked, "")] if self.asked is not None else [])]
        parts: list[Content] = []
        for n, (asked, answer) in enumerate(turns):
            parts.append(Content.styled(f"› {visible(asked, mark_newlines=False)}", USER_STYLE))
            if n < len(self.exchanges):
                parts.append(Content(visible(answer, mark_newlines=False) + "\n"))
        return Content("\n").join(parts) + ("\n" if parts else "")

    def wait(self, note: str) -> None:
        """Clear the panel and show ``note`` (waiting for its turn, loading...) in its place, under the chat so far."""
        self.text = ""
        self.done = None
        chat = self._chat()
        self._set_text(chat + Content.styled(note, "italic $text-muted" if chat else ""), waiting=not chat)
        self.query_one(".output-done", Static).update("")

    def stream(self, text: str) -> None:
        """Show ``text``, everything generated so far, and keep its end in view."""
        self.text = text
        chat = self._chat()
        self._set_text(chat + Content(visible(text, mark_newlines=False) + ("" if text else "…")), waiting=not chat and not text)
        self.query_one(VerticalScroll).scroll_end(animate=False)

    def finish(self, done: Done) -> None:
        self.done = done
        self.stream(done.text)
        if not done.text:
            chat = self._chat()
            self._set_text(chat + Content("(nothing generated)"), waiting=not chat)
        self.query_one(".output-done", Static).update(done_line(done))

    def _set_text(self, text: Content, waiting: bool) -> None:
        static = self.query_one(".output-text", Static)
        static.update(text)
        static.set_class(waiting, "-waiting")
