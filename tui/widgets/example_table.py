"""The first examples of a data file, one line each."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from engine.data import Example
from engine.data.display import escape_controls

#: How much of an example the table shows; Enter opens the whole of it.
SNIPPET_CHARS = 56
_WHITESPACE = re.compile(r"[ \t\r\f\v]+")


def snippet(example: Example, limit: int = SNIPPET_CHARS) -> str:
    """The start of ``example`` on one line: newlines as ``↵``, runs of spaces as one."""
    text = escape_controls(_WHITESPACE.sub(" ", example.render().strip()).replace("\n", "↵"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ExampleTable(DataTable[Text]):
    """Examples by index, source line, length and start; Enter selects the row under the cursor.

    Row keys are the examples' indices as strings, so a ``RowSelected``
    handler finds the example without counting rows. Snippets that don't
    fit are clipped rather than scrolled: a horizontal scrollbar would cost
    a row at 80x24, and Enter shows the whole example anyway.
    """

    DEFAULT_CSS = """
    ExampleTable { overflow-x: hidden; }
    """
    BINDINGS = [Binding("enter", "select_cursor", "Open example")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_column(Text("#", justify="right"), key="index")
        self.add_column(Text("line", justify="right"), key="line")
        self.add_column(Text("chars", justify="right"), key="chars")
        self.add_column("starts with", key="start")

    def add_examples(self, examples: Iterable[Example]) -> None:
        for example in examples:
            self.add_row(
                Text(str(example.index), justify="right"),
                Text(str(example.line), justify="right"),
                Text(f"{example.chars:,}", justify="right"),
                Text(snippet(example)),
                key=str(example.index),
            )
