"""One example shown whole, over the preview, and below it what training will see of it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.config import DEFAULT_MODEL, TrainConfig
from engine.data import DataSpec, Example
from engine.data.display import escape_controls
from tui.token_previewer import TokenPreviewer
from tui.widgets.footer import KeysFooter
from tui.widgets.token_preview import TokenPreview, legend

#: Longest text drawn; wrapping megabytes of text would freeze the UI.
MAX_SHOWN_CHARS = 100_000


def _clip(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return escape_controls(text)
    return f"{escape_controls(text[:MAX_SHOWN_CHARS])}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters not shown)"


def example_body(example: Example) -> Text:
    """The example's fields, each under its label: prompt/completion, or the chat's roles."""
    if example.kind == "text":
        return Text(_clip(example.text))
    if example.kind == "prompt_completion":
        parts = [("prompt", example.prompt), ("completion", example.completion)]
    else:
        parts = []
        if example.tools:
            names = ", ".join(str(t.get("function", t).get("name", "?")) for t in example.tools)
            parts.append(("tools", names))
        for m in example.messages:
            label = m.role + (" · weight 0: not trained" if m.role == "assistant" and m.weight == 0 else "")
            calls = "".join(f"\n→ {c['function']['name']}({json.dumps(c['function']['arguments'], ensure_ascii=False)})" for c in m.tool_calls)
            parts.append((label, m.content + calls))
    body = Text()
    for i, (label, content) in enumerate(parts):
        if i:
            body.append("\n\n")
        body.append(f"{label}\n", "bold reverse")
        body.append(_clip(content))
    return body


@dataclass
class TokensPreviewed(TextualMessage):
    """Example ``index``'s tokens as training encodes them: ``(text, trained)`` runs and a one-line summary."""

    index: int
    spans: tuple[tuple[str, bool], ...]
    summary: str


@dataclass
class TokensPreviewFailed(TextualMessage):
    """Why example ``index``'s token preview could not be made (no tokenizer, a template that can't render the example)."""

    index: int
    error: str


def spec_fields(spec: DataSpec) -> dict[str, Any]:
    """The spec as the preview process takes it (JSON)."""
    return {"path": str(spec.path), "format": spec.format, "separator": spec.separator, "mapping": spec.mapping, "target_chars": spec.target_chars}


class ExampleScreen(ModalScreen[None]):
    """The full text of one example and its tokens as training sees them; n and p step through the examples; Escape closes it.

    The token preview comes from the preview screen's ``TokenPreviewer``
    (a process of its own, since it loads transformers; started once), for
    the default model at the default sequence length: trained tokens are
    drawn bold on green, the context dimmed.
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("n,right", "step(1)", "Next", tooltip="The next example of the table"),
        Binding("p,left", "step(-1)", "Previous", tooltip="The example before this one in the table"),
    ]

    def __init__(self, example: Example, spec: DataSpec | None = None, previewer: TokenPreviewer | None = None, examples: Sequence[Example] = ()) -> None:
        """``examples`` are those the dialog steps through (the table's, in its order); ``previewer`` makes the token preview."""
        super().__init__()
        self.example = example
        self.spec = spec
        self.previewer = previewer
        self.examples = list(examples) or [example]

    def compose(self) -> ComposeResult:
        with Vertical(id="example-dialog"):
            with VerticalScroll(id="example-scroll"):
                yield Static(id="example-text")
                if self.spec is not None and self.previewer is not None:
                    yield Static(legend(DEFAULT_MODEL), id="tokens-title")
                    yield Static(id="tokens-summary")
                    yield TokenPreview(id="tokens")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#example-scroll").focus()
        self.show(self.example)

    def show(self, example: Example) -> None:
        """Show ``example`` and ask for its tokens; a preview still on its way for another is dropped."""
        self.example = example
        dialog = self.query_one("#example-dialog")
        at = next((n for n, e in enumerate(self.examples) if e.index == example.index), 0)
        dialog.border_title = f"Example #{example.index}" + (f" · {at + 1} of {len(self.examples)}" if len(self.examples) > 1 else "")
        dialog.border_subtitle = f"line {example.line} · {example.chars:,} chars · {example.kind.replace('_', '/')}"
        self.query_one("#example-text", Static).update(example_body(example))
        self.query_one("#example-scroll").scroll_home(animate=False)
        if self.spec is not None and self.previewer is not None:
            self.query_one("#tokens-summary", Static).update(f"Rendering with {DEFAULT_MODEL}'s tokenizer…")
            self.query_one(TokenPreview).update("")
            self.preview_tokens(self.spec, self.previewer, example.index)

    def action_step(self, by: int) -> None:
        at = next((n for n, e in enumerate(self.examples) if e.index == self.example.index), 0)
        if 0 <= at + by < len(self.examples):
            self.show(self.examples[at + by])
        else:
            self.notify("That was the last example of the table." if by > 0 else "This is the first example.", timeout=2)

    def preview_tokens(self, spec: DataSpec, previewer: TokenPreviewer, index: int) -> None:
        self.run_worker(lambda: self._run_preview(spec, previewer, index), thread=True, exclusive=True, exit_on_error=False, group="tokens")

    def _run_preview(self, spec: DataSpec, previewer: TokenPreviewer, index: int) -> None:
        """Ask the preview process and post its answer for example ``index``; touches no widget."""
        data = previewer.preview(spec_fields(spec), index, DEFAULT_MODEL, TrainConfig().seq_len)
        if "error" in data:
            self.post_message(TokensPreviewFailed(index, str(data["error"])))
            return
        from engine.train.preview import TokenPreview as Preview  # no transformers at import: only the data class

        preview = Preview.from_json(data)
        self.post_message(TokensPreviewed(index, preview.spans, preview.summary()))

    def on_tokens_previewed(self, message: TokensPreviewed) -> None:
        if message.index == self.example.index:  # not one stepped past meanwhile
            self.query_one("#tokens-summary", Static).update(message.summary)
            self.query_one(TokenPreview).show_spans(message.spans)

    def on_tokens_preview_failed(self, message: TokensPreviewFailed) -> None:
        if message.index == self.example.index:
            self.query_one("#tokens-summary", Static).update(Content.styled(escape_controls(message.error), "$text-error"))
