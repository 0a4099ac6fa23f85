"""The data screen: pick a file, its format and separator, then open the preview."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DirectoryTree, Header, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from engine import recent
from engine.data.names import FILE_FORMATS, FORMATS
from tui.format import shown
from tui.screens.base import FinetuiScreen, display_path
from tui.widgets.file_tree import FileTree
from tui.widgets.footer import KeysFooter

AUTO = "auto"
HINT = "Pick a file (Enter) or type its path, then F5 or Enter opens the preview."


@dataclass
class SeparatorSniffed(Message):
    """A marker line found in the chosen file: the separator to offer."""

    path: Path
    separator: str
    pieces: int


class DataScreen(FinetuiScreen):
    """Where a session starts: choose the training file and how to read it.

    Choosing a file (in the tree or the recent list) fills the form and
    moves to the separator, so the next Enter opens the preview.
    """

    AUTO_FOCUS = "#files"
    BINDINGS = [Binding("f5", "open_preview", "Preview", tooltip="Parse the file and show its examples", id="preview")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        start = start.expanduser().absolute()
        self.start_file = "" if start.is_dir() else display_path(start)
        self.folder = start if start.is_dir() else start.parent if start.parent.is_dir() else Path.cwd()
        self.recent: list[recent.RecentFile] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="pickers"):
            with Vertical(id="files-panel", classes="panel") as files:
                files.border_title = f"Files in {display_path(self.folder)}"
                yield FileTree(self.folder, id="files")
            with Vertical(id="recent-panel", classes="panel") as recent_panel:
                recent_panel.border_title = "Recent"
                yield OptionList(id="recent")
                yield Static("Files you preview show up here.", id="recent-empty")
        with Vertical(id="form"):
            with Horizontal(classes="form-row"):
                yield Label("File", classes="field-label")
                yield Input(self.start_file, placeholder=f"path of a data file ({', '.join('.' + f for f in FILE_FORMATS)})", id="path", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Format", classes="field-label")
                yield Select([(f, f) for f in (AUTO, *FORMATS)], value=AUTO, allow_blank=False, id="format", compact=True)
                yield Label("Separator", classes="field-label")
                yield Input(placeholder="none: split .txt at blank lines", id="separator", compact=True)
                yield Button("Preview", id="open", variant="primary", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Map", classes="field-label")
                yield Input(placeholder="columns, if not detected: prompt=question,completion=answer", id="mapping", compact=True)
        yield Static(HINT, id="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        if self.start_file:
            self.sniff(Path(self.start_file))

    def on_screen_resume(self) -> None:
        """Reload the recent files: the preview just opened may have added one."""
        self.recent = recent.load()
        options = self.query_one("#recent", OptionList)
        options.clear_options()
        options.add_options(Option(self._recent_label(entry)) for entry in self.recent)
        options.display = bool(self.recent)
        self.query_one("#recent-empty").display = not self.recent

    @staticmethod
    def _recent_label(entry: recent.RecentFile) -> Content:
        details = [display_path(entry.path.parent)]
        if entry.format:
            details.append(entry.format)
        if entry.separator:
            details.append(f"split at {entry.separator}")
        return Content.from_markup("[b]$name[/b]\n[dim]$details[/]", name=entry.path.name, details=" · ".join(details))

    @on(DirectoryTree.FileSelected)
    def file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        """A file picked in the tree: read as it was last previewed (Recent), else as finetui detects it."""
        chosen = event.path.resolve()
        entry = next((entry for entry in self.recent if entry.path.resolve() == chosen), None)
        if entry is not None:
            self._fill_recent(entry)
        else:
            self._fill(event.path)

    @on(OptionList.OptionSelected, "#recent")
    def recent_chosen(self, event: OptionList.OptionSelected) -> None:
        self._fill_recent(self.recent[event.option_index])

    def _fill_recent(self, entry: recent.RecentFile) -> None:
        self._fill(entry.path, entry.format if entry.format in FORMATS else AUTO, entry.separator or "")

    def _fill(self, path: Path, fmt: str = AUTO, separator: str = "") -> None:
        """Put a chosen file in the form with its own settings, then move on to the separator.

        Every field is set: the last file's separator, format or column map
        would otherwise read this one (haiku.txt's separator made
        shakespeare.txt one example). No separator: the file is sniffed for one.
        """
        self.query_one("#path", Input).value = display_path(path)
        self.query_one("#format", Select).value = fmt
        self.query_one("#mapping", Input).value = ""
        separator_input = self.query_one("#separator", Input)
        separator_input.value = separator
        self._say(HINT)
        separator_input.focus()
        if not separator:
            self.sniff(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sniff")
    def sniff(self, path: Path) -> None:
        """Look for a marker line that separates the file's examples; touches no widget."""
        from engine.data import DataError, DataSpec, detect_format  # here: the first paint needs no parser
        from engine.data.sniff import sniff_separator

        try:
            if detect_format(DataSpec(path)) != "txt":
                return
            suggestion = sniff_separator(path)
        except DataError:
            return  # the preview will say what is wrong with the file
        if suggestion is not None:
            self.post_message(SeparatorSniffed(path, suggestion.separator, suggestion.pieces))

    def on_separator_sniffed(self, message: SeparatorSniffed) -> None:
        """Offer the marker, pre-filled, unless the user has moved on to another file or typed one."""
        separator = self.query_one("#separator", Input)
        chosen = Path(self.query_one("#path", Input).value.strip()).expanduser().resolve()
        if separator.value or chosen != message.path.expanduser().resolve():
            return
        separator.value = message.separator
        separator.select_all()  # offered, not imposed: typing replaces it
        self._say(f"Looks separated by {message.separator} ({message.pieces:,} pieces): pre-filled; clear it to split at blank lines.")

    @on(Input.Submitted)
    @on(Button.Pressed, "#open")
    def action_open_preview(self) -> None:
        """Check the path is a file, then parse it on the preview screen."""
        raw = self.query_one("#path", Input).value.strip()
        path = Path(raw).expanduser()
        if not raw or not path.is_file():
            problem = (
                "Pick a file first" if not raw
                else f"{raw} is a folder" if path.is_dir()
                else f"{raw} is not a regular file (a pipe, socket or device)" if path.exists()  # a FIFO would block the reader
                else f"No such file: {raw}"
            )
            self._say(f"{problem}: choose one in the tree or type its path.", error=True)
            self.query_one("#path", Input).focus()
            return
        fmt = self.query_one("#format", Select).value
        separator = self.query_one("#separator", Input).value.strip() or None
        mapping = self.query_one("#mapping", Input).value.strip() or None
        from engine.data import DataError, DataSpec

        try:
            spec = DataSpec(path, format=None if fmt == AUTO else str(fmt), separator=separator, mapping=mapping)
        except DataError as error:
            self._say(error.message, error=True)
            self.query_one("#mapping", Input).focus()
            return
        self._say(HINT)
        from tui.screens.preview import PreviewScreen  # here, not at the top: the first paint doesn't need it

        self.app.push_screen(PreviewScreen(spec))

    def _say(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` in the status line as written: it quotes typed paths and data, so it is escaped and never markup."""
        status = self.query_one("#status", Static)
        status.update(Content(shown(text)))
        status.set_class(error, "-error")
