"""The help screen (F1): how finetui works and which keys do what."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from tui.screens.base import screen_css

HELP = """\
# finetui

Fine-tune a language model on your own data with 4-bit LoRA (QLoRA),
then compare it with the model it started from.

## The flow

1. **Data** (F2): pick a file in the tree or type its path, choose the
   separator for a `.txt`, then **F5** previews what it parses into.
2. **Preview**: the examples, their lengths in characters and in tokens,
   and any data-quality warnings. **t** sets up training.
3. **Train**: the model, the settings and an estimate of the time.
   **Ctrl+S** launches the run; it trains in its own process and goes on
   if you quit finetui or the SSH connection drops.
4. **Runs** (F3): every run with its status, progress and ETA. **Enter**
   opens one: its live log, the loss chart, and once it is Ready the
   scorecard, baseline → custom. **c** cancels, **r** resumes.
   The terminal bell rings when a run is Ready or Failed.
5. **Playground** (F4): pick a Ready run, then the same prompt through the
   baseline and the custom model, side by side (**Ctrl+G**); on the
   Likelihood tab, the log-likelihood each gives a text, token by token
   (**Ctrl+R**). **Esc** stops a request. Write a prompt as it appears in
   the data, e.g. `Question: …` then `Answer:` on its own line.

## Keys everywhere

| Key | Does |
| --- | --- |
| F1, ? | this help (? where no text box has the focus) |
| F2 / F3 / F4 | data / runs / playground |
| Ctrl+P | the command palette: every action by name |
| Tab, Shift+Tab | move between fields |
| Esc | back, or close a dialog |
| Ctrl+Q, q | quit (runs keep training; q where no text box has the focus) |

From a shell, `finetui --help` lists the same actions as commands:
`inspect`, `train`, `runs`, `logs`, `generate`, `likelihood` and more.
"""


class HelpScreen(ModalScreen[None]):
    """A scrollable page of help over the current screen; Esc, F1 or q closes it."""

    DEFAULT_CSS = screen_css("help.tcss")
    SCOPED_CSS = False
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("f1", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "Help"
            dialog.border_subtitle = "Esc closes"
            with VerticalScroll(id="help-scroll"):
                yield Markdown(HELP, id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()
