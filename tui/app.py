"""The finetui Textual app: ``FinetuiApp(start_path=...).run()``.

It starts on the data screen; each step of the flow is a screen of its own
in ``tui/screens``. Nothing here imports torch, transformers or peft: the
first screen must paint in under a second.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from tui.screens.data import DataScreen


class FinetuiApp(App[None]):
    """Fine-tune an LLM on your own data, screen by screen: data, preview, then training."""

    TITLE = "finetui"
    SUB_TITLE = "fine-tune an LLM on your data"
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True, id="quit")]

    def __init__(self, start_path: Path | None = None) -> None:
        """``start_path`` is a file or folder to preselect; by default the working folder."""
        super().__init__()
        self.start_path = Path.cwd() if start_path is None else Path(start_path)

    def get_default_screen(self) -> Screen[None]:
        return DataScreen(self.start_path)
