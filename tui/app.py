"""The finetui Textual app: ``FinetuiApp(start_path=...).run()``.

Three modes, each with its own screen stack, so switching keeps every
screen's state (a half-filled form, a streaming generation):

- ``data``: pick a file, preview it, set up and launch a run (F2);
- ``runs``: the runs dashboard and each run's page (F3);
- ``playground``: baseline and custom side by side (F4).

Nothing here imports torch, transformers or peft: the first screen must
paint in under a second. Training and inference run in other processes.
Nor does it import any other screen, or of the engine more than the data
screen shows (its recent files and format names), before the first paint:
each screen's module is imported when the screen is first shown, and the run
watcher (and with it the run store) a moment after the first frame is drawn
(``FIRST_FRAME_OUT_S``), once that frame is on its way to the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui import DEBUG_ENV

if TYPE_CHECKING:
    from textual.widget import Widget

    from tui.run_feed import RunsSnapshot
    from tui.run_watch import RunWatcher

#: States worth a bell: the run needs the user's eyes.
BELL_STATES = ("ready", "failed")
#: Where an error no handler caught leaves its traceback, in the finetui home.
CRASH_LOG = "crash.log"
#: How long after the first frame is drawn the run watcher starts, loading the run store's modules.
#: The frame then still has to reach the terminal, sent by Textual's writer thread, which needs the
#: GIL as the imports do: started at once, they held the frame up by about 40 ms (``bench/tui_startup.py``:
#: finetui / same widgets 1.12x, and 1.04-1.06x with this wait).
FIRST_FRAME_OUT_S = 0.05
#: F2-F4 as one group in the footer: three keys, then what each opens, in their order.
MODE_KEYS = Binding.Group("Data·Runs·Play", compact=True)
#: The class of the ``.panel`` that holds the focus (``app.tcss`` draws its border in the accent colour).
FOCUSED_PANEL = "-focused"


def _runs_screen() -> Screen[None]:
    """The runs dashboard, imported when first shown (as every screen is)."""
    from tui.screens.runs import RunsScreen

    return RunsScreen()


def _playground_screen() -> Screen[None]:
    """The playground, imported when first shown (see ``_runs_screen``)."""
    from tui.screens.playground import PlaygroundScreen

    return PlaygroundScreen()


class FinetuiApp(App[None]):
    """Fine-tune an LLM on your own data: data and preview, training, runs, playground."""

    TITLE = "finetui"
    SUB_TITLE = "fine-tune an LLM on your data"
    CSS_PATH = "app.tcss"
    DEFAULT_MODE = "data"  # the default screen's mode, registered on mount (see get_default_screen)
    #: F2-F4 are in every footer, one group after the screen's own keys ("f2 f3 f4 Data·Runs·Play"): a newcomer
    #: never opened the help screen that listed them. ``q`` and ``?`` quit and help where no text box takes them.
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False, id="quit"),
        Binding("q", "typed_key('quit')", "Quit", show=False),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "typed_key('help')", "Help", show=False),
        Binding("f2", "switch_mode('data')", "Data", tooltip="Pick a data file and start a fine-tune", id="data", group=MODE_KEYS),
        Binding("f3", "switch_mode('runs')", "Runs", tooltip="Every run: status, logs, scorecards", id="runs", group=MODE_KEYS),
        Binding("f4", "switch_mode('playground')", "Play", tooltip="The playground: baseline and custom side by side", id="playground", group=MODE_KEYS),
    ]

    def __init__(self, start_path: Path | None = None) -> None:
        """``start_path`` is a file or folder to preselect; by default the working folder."""
        super().__init__()
        self.start_path = Path.cwd() if start_path is None else Path(start_path)
        self.open_on_runs = start_path is None
        """Whether to show the runs dashboard first when a run is queued or training (no file was asked for)."""
        self.add_mode("runs", lambda: self._styled(_runs_screen()))
        self.add_mode("playground", lambda: self._styled(_playground_screen()))
        self.run_states: dict[str, str] | None = None
        """The state of every run at the last snapshot; None until the first."""

    def _styled(self, screen: Screen[None]) -> Screen[None]:
        """``screen``, a mode's new screen, marked as styled by the stylesheet the app has now.

        It is: Textual styles each widget as it registers. Unmarked, the
        first switch to a mode (and the first switch back to the data
        screen) re-parsed every CSS source of the app, its widgets' too,
        and restyled every widget, in case the stylesheet had changed since
        the screen was styled: 0.2-0.3 s of a first F3 or F4 here
        (``bench/tui_screens.py``). Textual keeps that mark in
        ``_css_update_count``; ``tests/test_tui_modes.py`` checks that it
        still spares those parses.
        """
        screen._css_update_count = self._css_update_count
        return screen

    def _data_screen(self) -> Screen[None]:
        from tui.screens.data import DataScreen

        return DataScreen(self.start_path)

    def get_default_screen(self) -> Screen[None]:
        """The data screen, made Textual's default screen rather than a registered mode's.

        Textual mounts a registered mode's first screen while the app itself
        starts, inside the batch that holds back every paint: that screen was
        laid out and drawn once for nothing, then again (first paint 0.90 s
        here, against 0.72 s as the default screen). ``on_mount`` registers
        the mode afterwards, so F2 switches back to this same screen.
        """
        return self._styled(self._data_screen())

    @cached_property
    def run_watcher(self) -> RunWatcher:
        """Reads the run store once per tick; every view of runs renders its snapshots.

        Made on first use, so the run store's modules load after the first
        paint (or when a view of runs asks first).
        """
        from tui.run_watch import RunWatcher

        return RunWatcher(self)

    def on_mount(self) -> None:
        self.add_mode("data", self._data_screen)  # its stack holds the default screen already: kept, not made anew
        self.call_after_refresh(self.set_timer, FIRST_FRAME_OUT_S, self._watch_runs)

    def _watch_runs(self) -> None:
        if not self.is_running:
            return  # quit (Ctrl+Q) before the watcher's turn came: nothing left to watch for
        self.run_watcher.signal.subscribe(self, self._runs_watched)
        self.run_watcher.start()

    def _runs_watched(self, snapshot: RunsSnapshot) -> None:
        """Ring the bell when a run becomes ready or failed, whatever screen is up.

        The first snapshot also decides the first screen: reopened while a run
        trains, its progress is what the user came back for.
        """
        from engine.runs.status import ACTIVE

        if snapshot.error is not None:
            return  # an unreadable runs folder is not every run gone; the runs screen says why
        previous, self.run_states = self.run_states, snapshot.states
        if previous is None:
            if self.open_on_runs and self.current_mode == "data" and any(s in ACTIVE for s in self.run_states.values()):
                self.switch_mode("runs")
            return
        for run_id, state in self.run_states.items():
            if previous.get(run_id) != state and state in BELL_STATES:
                self.bell()
                severity = "information" if state == "ready" else "error"
                self.notify(f"Run {run_id} is {state}.", title="Training", severity=severity, timeout=8)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Mark the panel that now holds the focus, as ``:focus-within`` would, at a fraction of its cost.

        Textual restyles a ``:focus-within`` container and everything in it
        on every focus move inside it, although the container's look does
        not change: each Tab in the train screen's settings (about 60
        widgets) restyled them all. The class changes only when the focus
        enters or leaves a panel, and only the panels are restyled.
        """
        self._mark_focused_panel(event.widget)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._mark_focused_panel(event.widget)

    def _mark_focused_panel(self, widget: Widget) -> None:
        """Give ``FOCUSED_PANEL`` to the panel around the focused widget of ``widget``'s screen, and take it from any other.

        A class change makes Textual restyle the node and all it holds (60 ms
        for the train screen's settings here), but ``FOCUSED_PANEL`` styles
        the panel alone (``app.tcss``: no rule selects inside a focused
        panel), so only the panels whose class changed are restyled.
        """
        if not widget.is_attached:
            return  # removed: its screen's next focus event marks the panel
        screen = widget.screen
        focused = screen.focused
        panel = next((node for node in focused.ancestors_with_self if node.has_class("panel")), None) if focused else None
        changed = [marked for marked in screen.query(f".panel.{FOCUSED_PANEL}") if marked is not panel]
        for marked in changed:
            marked.remove_class(FOCUSED_PANEL, update=False)
        if panel is not None and not panel.has_class(FOCUSED_PANEL):
            panel.add_class(FOCUSED_PANEL, update=False)
            changed.append(panel)
        if changed:
            self.stylesheet.update_nodes(changed, animate=True)

    def _fatal_error(self) -> None:
        """An error no handler caught ends the app, as in Textual, but is said in one line, never as a traceback.

        The traceback goes to ``crash.log`` in the finetui home, for a bug
        report; ``FINETUI_DEBUG=1`` shows Textual's own report instead.
        (Textual calls this private hook for every unhandled error.)
        """
        error = self._exception
        if error is None or os.environ.get(DEBUG_ENV):
            super()._fatal_error()
            return
        from rich.text import Text

        self.bell()
        where = _write_crash_log(error)
        self._exit_renderables.append(Text(f"finetui stopped on an unexpected error: {type(error).__name__}: {error} (a bug in finetui; {where})"))
        self._close_messages_no_wait()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``q`` and ``?`` are text in a text box, and do nothing over a dialog (which has its own keys)."""
        if action == "typed_key":
            from textual.screen import ModalScreen
            from textual.widgets import Input, TextArea

            return not isinstance(self.focused, (Input, TextArea)) and not isinstance(self.screen, ModalScreen)
        return True

    async def action_typed_key(self, action: str) -> None:
        """A plain key for an F key's or a Ctrl key's action, where no text box takes it (see ``check_action``)."""
        await self.run_action(action)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_run(self, run_id: str) -> None:
        """Show one run's page on the runs dashboard."""
        from tui.screens.runs import RunsScreen

        self.switch_mode("runs")
        screen = self.screen_stack[0]
        if isinstance(screen, RunsScreen):
            screen.open_run(run_id)

    def open_playground(self, run_id: str | None = None) -> None:
        """Go to the playground, with ``run_id`` picked when given."""
        from tui.screens.playground import PlaygroundScreen

        self.switch_mode("playground")
        screen = self.screen_stack[0]
        if isinstance(screen, PlaygroundScreen) and run_id is not None:
            screen.select_run(run_id)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (Ctrl+P): the main actions first, then Textual's own."""
        yield SystemCommand("New fine-tune", "Pick a data file and preview it (F2)", lambda: self.switch_mode("data"))
        yield SystemCommand("Runs", "Every run with its status, progress and ETA (F3)", lambda: self.switch_mode("runs"))
        yield SystemCommand("Playground", "Baseline and custom side by side; likelihoods (F4)", self.open_playground)
        yield SystemCommand("Help", "Keys and how finetui works (F1)", self.action_help)
        yield from super().get_system_commands(screen)


def _write_crash_log(error: BaseException) -> str:
    """Append ``error``'s traceback to ``crash.log`` in the finetui home; say where it is, or why it could not be written."""
    import time
    import traceback

    from engine.paths import home

    path = home() / CRASH_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{''.join(traceback.format_exception(error))}\n")
    except OSError as exc:
        return f"its traceback could not be written to {path}: {exc.strerror or exc}"
    return f"the traceback is in {path}"
