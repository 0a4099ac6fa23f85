"""One example shown whole, over the preview."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.data import Example

#: Longest text drawn; wrapping megabytes of text would freeze the UI.
MAX_SHOWN_CHARS = 100_000


def _clip(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters not shown)"


def example_body(example: Example) -> Text:
    """The example's fields, each under its label: prompt/completion, or the chat's roles."""
    if example.kind == "text":
        return Text(_clip(example.text))
    if example.kind == "prompt_completion":
        parts = [("prompt", example.prompt), ("completion", example.completion)]
    else:
        parts = [(m.role, m.content) for m in example.messages]
    body = Text()
    for i, (label, content) in enumerate(parts):
        if i:
            body.append("\n\n")
        body.append(f"{label}\n", "bold reverse")
        body.append(_clip(content))
    return body


class ExampleScreen(ModalScreen[None]):
    """The full text of one example in a scrollable view; Escape closes it."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, example: Example) -> None:
        super().__init__()
        self.example = example

    def compose(self) -> ComposeResult:
        e = self.example
        with Vertical(id="example-dialog") as dialog:
            dialog.border_title = f"Example #{e.index}"
            dialog.border_subtitle = f"line {e.line} · {e.chars:,} chars · {e.kind.replace('_', '/')}"
            with VerticalScroll(id="example-scroll"):
                yield Static(example_body(e), id="example-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#example-scroll").focus()
