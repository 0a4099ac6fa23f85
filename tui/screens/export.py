"""The export dialog: choose what to export, run it in an engine process, show its steps and where it went.

The export runs as ``python -m engine.export`` (the TUI never imports
torch); a thread worker starts it and turns each JSON line it prints into a
message for the dialog. Escape while it runs stops the process; the engine
writes to a hidden folder until the export is whole, so nothing half-made
takes the output's name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from engine.export.exporter import DTYPES, TARGETS
from engine.export.gguf import GGUF_TYPES
from tui.screens.base import screen_css

TARGET_LABELS = {"hf": "merged weights (hf)", "adapter": "PEFT adapter", "gguf": "GGUF (llama.cpp)"}


@dataclass
class ExportProgress(Message):
    """A step of the export, as the engine words it."""

    text: str


@dataclass
class ExportFinished(Message):
    """The export ended: ``path`` and ``report`` when it went through, ``error`` (one line) when not."""

    path: str | None = None
    report: str | None = None
    error: str | None = None


class ExportScreen(ModalScreen[str | None]):
    """Export run ``run_id``; dismisses with the output path once done (None when closed before)."""

    DEFAULT_CSS = screen_css("export.tcss")
    SCOPED_CSS = False
    BINDINGS = [
        Binding("ctrl+s", "export", "Export", id="export-start"),
        Binding("escape", "close", "Close", id="export-close"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.process: subprocess.Popen[str] | None = None
        self.path: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog") as dialog:
            dialog.border_title = f"Export run {self.run_id}"
            with Vertical(id="export-form"):
                with Horizontal(classes="export-row"):
                    yield Label("As")
                    yield Select([(TARGET_LABELS[t], t) for t in TARGETS], value="hf", allow_blank=False, compact=True, id="export-target")
                    yield Label(" dtype")
                    yield Select([(d, d) for d in DTYPES], value="auto", allow_blank=False, compact=True, id="export-dtype")
                with Horizontal(classes="export-row"):
                    yield Label("GGUF type")
                    yield Select([(t, t) for t in GGUF_TYPES], value="f16", allow_blank=False, compact=True, id="export-gguf-type")
                    yield Checkbox("round-trip check", value=True, compact=True, id="export-check")
                with Horizontal(classes="export-row"):
                    yield Label("Folder")
                    yield Input(placeholder=f"default: exports/{self.run_id}-…", compact=True, id="export-out")
                with Horizontal(classes="export-row"):
                    yield Checkbox("replace the folder if it exists", value=False, compact=True, id="export-force")
            yield Static("Ctrl+S exports in a process of its own; the check scores the eval split with the export.", markup=False, id="export-status")
            with Horizontal(id="export-buttons"):
                yield Button("Close (esc)", id="export-close-button", compact=True)
                yield Button("Export (ctrl+s)", variant="primary", id="export-go", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-target", Select).focus()

    def options(self) -> dict[str, object]:
        """The form as ``engine.export``'s options JSON."""
        out = self.query_one("#export-out", Input).value.strip()
        return {
            "target": self.query_one("#export-target", Select).value,
            "dtype": self.query_one("#export-dtype", Select).value,
            "gguf_type": self.query_one("#export-gguf-type", Select).value,
            "check": self.query_one("#export-check", Checkbox).value,
            "force": self.query_one("#export-force", Checkbox).value,
            "out": out or None,
        }

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-go":
            self.action_export()
        else:
            self.action_close()

    def action_export(self) -> None:
        if self.process is not None:
            return
        self.query_one("#export-go", Button).disabled = True
        self.query_one("#export-form").disabled = True
        self._say("starting the export process…")
        self._run(json.dumps(self.options()))

    def action_close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
        self.dismiss(self.path)

    def _say(self, text: str, state: str = "") -> None:
        status = self.query_one("#export-status", Static)
        status.update(text)
        status.set_classes(f"-{state}" if state else "")

    @work(thread=True, exit_on_error=False, group="export")
    def _run(self, options: str) -> None:
        """Start the engine's export process and relay its lines; no widget is touched here."""
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine.export", self.run_id, "--options", options],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
            )
        except OSError as error:
            self.post_message(ExportFinished(error=f"could not start the export process: {error}"))
            return
        finished: ExportFinished | None = None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "progress":
                self.post_message(ExportProgress(str(event.get("text", ""))))
            elif event.get("type") == "done":
                finished = ExportFinished(path=event.get("path"), report=event.get("report"))
            elif event.get("type") == "error":
                finished = ExportFinished(error=_worded(event))
        code = self.process.wait()
        self.post_message(finished or ExportFinished(error=f"the export process ended (exit code {code}) without a result"))

    def on_export_progress(self, message: ExportProgress) -> None:
        self._say(message.text)

    def on_export_finished(self, message: ExportFinished) -> None:
        self.process = None
        self.query_one("#export-go", Button).disabled = False
        self.query_one("#export-form").disabled = False
        if message.error is not None:
            self._say(f"Failed: {message.error}", "failed")
            return
        self.path = message.path
        verdict = (message.report or "").splitlines()[0].rsplit(": ", 1)[-1] if message.report else "not checked"
        self._say(f"Exported to {message.path}\nround-trip check: {verdict} (roundtrip.txt in the folder)", "done")


def _worded(event: dict) -> str:
    """The export process's error in the dialog's terms: an existing folder names the box that replaces it."""
    message = str(event.get("message"))
    if event.get("code") == "exists":
        return f"{message}; tick “replace the folder if it exists”, or give another folder"
    return message
