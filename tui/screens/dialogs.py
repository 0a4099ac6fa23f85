"""Modal dialogs shared by the screens."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ErrorScreen(ModalScreen[None]):
    """A message the user must acknowledge: Escape, Enter or the button closes it."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.title_text
            with VerticalScroll(id="dialog-body"):
                yield Static(self.message, markup=False, id="dialog-message")
            yield Button("OK", variant="error", id="dialog-ok", compact=True)

    def on_mount(self) -> None:
        self.query_one("#dialog-ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss()
