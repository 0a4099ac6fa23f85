"""An example as training sees it: the chat template's text, trained tokens set apart from the context.

Trained tokens (the completion, the assistant's turns) are drawn bold on a
green background; context tokens (prompts, user and tool turns, weight-0
turns, the template's markup) are dimmed. Control characters are escaped,
so data can't drive the terminal.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from engine.data.display import escape_controls

#: Longest preview drawn: wrapping a huge example would freeze the UI.
MAX_SHOWN_CHARS = 20_000
TRAINED_STYLE = "bold $text-success on $success-muted"
CONTEXT_STYLE = "dim"


def preview_content(spans: tuple[tuple[str, bool], ...]) -> Content:
    """The token runs as styled text, clipped at ``MAX_SHOWN_CHARS``."""
    parts = []
    shown = 0
    for text, trained in spans:
        text = escape_controls(text)[: max(0, MAX_SHOWN_CHARS - shown)]
        shown += len(text)
        if text:
            parts.append(Content.styled(text, TRAINED_STYLE if trained else CONTEXT_STYLE))
    if shown >= MAX_SHOWN_CHARS:
        parts.append(Content.styled("\n… (the rest is not shown)", "italic"))
    return Content("").join(parts)


def legend(model: str) -> Content:
    """The preview's title line, its two samples drawn in the preview's own styles."""
    return Content("").join(
        [
            Content.from_markup("\n[b]What trains[/b] · $model · ", model=model),
            Content.styled("trained", TRAINED_STYLE),
            Content(" · "),
            Content.styled("context", CONTEXT_STYLE),
        ]
    )


class TokenPreview(Static):
    """Shows a ``TokenPreview``'s spans once they arrive; a line of text until then."""

    DEFAULT_CSS = """
    TokenPreview { height: auto; }
    """

    def show_spans(self, spans: tuple[tuple[str, bool], ...]) -> None:
        self.update(preview_content(spans))
