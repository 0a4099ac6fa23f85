"""Modal dialogs shared by the screens."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

ResultT = TypeVar("ResultT")


class MessageDialog(ModalScreen[ResultT]):
    """A titled message in a box, with the buttons each dialog adds below it (``buttons``)."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.title_text
            with VerticalScroll(id="dialog-body"):
                yield Static(self.message, markup=False, id="dialog-message")
            yield from self.buttons()

    def buttons(self) -> ComposeResult:
        """The buttons below the message; each dialog has its own."""
        return ()


class ErrorScreen(MessageDialog[None]):
    """A message the user must acknowledge: Escape, Enter or the button closes it."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def buttons(self) -> ComposeResult:
        yield Button("OK", variant="error", id="dialog-ok", compact=True)

    def on_mount(self) -> None:
        self.query_one("#dialog-ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss()


class ConfirmScreen(MessageDialog[bool]):
    """A yes-or-no question before something that can't be taken back; dismisses with the answer.

    One dialog for every such question (cancel or delete a run, start a run
    that trusts a model's code). "No" has the focus, so Enter alone never
    says yes; y says yes, n and Escape say no.
    """

    BINDINGS = [
        Binding("y", "dismiss(True)", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str) -> None:
        super().__init__(title, message)
        self.yes = yes

    def buttons(self) -> ComposeResult:
        with Horizontal(id="dialog-buttons"):
            yield Button("No (n)", id="dialog-no", compact=True)
            yield Button(f"{self.yes} (y)", variant="warning", id="dialog-yes", compact=True)

    def on_mount(self) -> None:
        self.query_one("#dialog-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "dialog-yes")
