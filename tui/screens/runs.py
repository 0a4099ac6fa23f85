"""The runs dashboard (F3): every run with its status, progress and ETA; Enter opens one, m marks runs and v compares them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from engine.runs import STATES
from tui.format import shown
from tui.run_feed import RunRow, RunsSnapshot
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import ErrorScreen
from tui.screens.run import RunActionsScreen, RunScreen
from tui.widgets.footer import KeysFooter

EMPTY = "No runs yet: F2 picks a data file, then t sets up training."
#: Table columns: the ``RunRow`` field each shows, and its heading.
COLUMNS = (("id", "Run"), ("state", "Status"), ("progress", "Done"), ("eta", "ETA"), ("model", "Model"), ("created", "Created"))
#: Fixed column widths, which fill 80 columns: the layout doesn't jump as
#: values change each second, and longer values are cut, not wrapped.
WIDTHS = {"id": 24, "state": 9, "progress": 4, "eta": 6, "model": 13, "created": 11}
#: Longest run id the table shows whole; the run's page shows it all.
ID_CHARS = 24
#: Before the id of a run marked for comparing.
MARK = "● "
#: Right-aligned columns: numbers read better that way.
RIGHT = {"progress", "eta"}


class RunTable(DataTable[Text]):
    """One row per run, keyed by run id, so the cursor stays on its run when rows change."""

    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {f"run-table--{state}" for state in STATES}
    BINDINGS = [Binding("enter", "select_cursor", "Open", tooltip="Open the run's page: log, loss chart, scorecard")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.shown: dict[str, RunRow] = {}
        """The rows on screen, by run id, in table order."""
        self.marked: list[str] = []
        """Runs marked for comparing (m), in the order they were marked."""

    def on_mount(self) -> None:
        for field, heading in COLUMNS:
            self.add_column(Text(heading, justify="right" if field in RIGHT else "left"), width=WIDTHS[field], key=field)

    def picked(self) -> RunRow | None:
        """The run under the cursor, if any."""
        if not self.shown:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.shown.get(key or "")

    def show(self, rows: Sequence[RunRow], pick: str | None = None) -> None:
        """Show ``rows``: changed cells only when the runs are the same, else a rebuild that keeps the cursor's run.

        ``pick`` moves the cursor to that run instead, when it is listed.
        """
        before = self.picked()
        if [row.id for row in rows] == list(self.shown):
            for row in rows:
                old = self.shown[row.id]
                for field, _ in COLUMNS:
                    if getattr(row, field) != getattr(old, field):
                        self.update_cell(row.id, field, self._cell(row, field), update_width=True)
        else:
            self.clear()
            for row in rows:
                self.add_row(*(self._cell(row, field) for field, _ in COLUMNS), key=row.id)
        self.shown = {row.id: row for row in rows}
        target = pick if pick in self.shown else None
        if target is None and before is not None and before.id in self.shown:
            target = before.id
        if target is not None:
            self.move_cursor(row=self.get_row_index(target), animate=False)

    def toggle_mark(self) -> None:
        """Mark the run under the cursor for comparing, or unmark it."""
        row = self.picked()
        if row is None:
            return
        if row.id in self.marked:
            self.marked.remove(row.id)
        else:
            self.marked.append(row.id)
        self.update_cell(row.id, "id", self._cell(row, "id"))

    def _cell(self, row: RunRow, field: str) -> Text:
        value = shown(getattr(row, field))  # a Text, escaped: a run's model or id is never markup, nor an escape sequence
        if field == "id" and row.id in self.marked:
            value = MARK + value
        if field == "state":
            return Text(value.capitalize(), style=self.get_component_rich_style(f"run-table--{value}"))
        if field == "id" and len(value) > ID_CHARS:
            value = value[: ID_CHARS - 1] + "…"
        return Text(value, justify="right" if field in RIGHT else "left")


class RunsScreen(RunActionsScreen):
    """Every run, newest first, as each of the run watcher's snapshots has them."""

    SUB_TITLE = "runs"
    BINDINGS = [
        Binding("c", "cancel_run", "Cancel", tooltip="Stop the selected run; it saves a checkpoint first", id="runs-cancel"),
        Binding("r", "resume_run", "Resume", tooltip="Continue the selected failed or cancelled run", id="runs-resume"),
        Binding("p", "playground", "Play", tooltip="Try the selected run's model (Ready runs)", id="runs-playground"),
        Binding("d", "delete_run", "Delete", tooltip="Delete the selected run's folder", id="runs-delete"),
        Binding("m", "mark_run", "Mark", tooltip="Mark the selected run for comparing (again: unmark)", id="runs-mark"),
        Binding("v", "compare_runs", "Compare", tooltip="Compare the marked runs: scorecards, settings, curves", id="runs-compare"),
    ]
    AUTO_FOCUS = "#runs-table"

    def __init__(self) -> None:
        super().__init__()
        self.pick: str | None = None
        """A run to put the cursor on once it is listed (the one just opened)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-note", markup=False)
        yield RunTable(id="runs-table")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.watcher.signal.subscribe(self, self._show)
        if self.watcher.snapshot is not None:
            self._show(self.watcher.snapshot)

    def on_screen_resume(self) -> None:
        self.watcher.poke()

    def _show(self, snapshot: RunsSnapshot) -> None:
        """Every run of the snapshot in the table, or why the runs can't be read."""
        note = self.query_one("#runs-note", Static)
        if snapshot.error is not None:
            note.add_class("-error")
            note.update(shown(snapshot.error))
            return
        rows = snapshot.rows
        table = self.query_one(RunTable)
        table.show(rows, self.pick)
        if self.pick in table.shown:
            self.pick = None
        table.display = bool(rows)
        if rows and self.focused is None:
            table.focus()
        note.remove_class("-error")
        note.update(self._summary(rows) if rows else EMPTY)

    @staticmethod
    def _summary(rows: Sequence[RunRow]) -> str:
        """``3 runs: 1 training, 2 ready``, states in lifecycle order."""
        counts = Counter(row.state for row in rows)
        parts = ", ".join(f"{counts[state]} {state}" for state in STATES if counts[state])
        return f"{len(rows)} run{'s' if len(rows) != 1 else ''}: {parts} · Enter opens one"

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_run(event.row_key.value)

    def open_run(self, run_id: str) -> None:
        """Show the page of ``run_id`` on top of the list (closing any other run's page first)."""
        self.pick = run_id
        stack = self.app.screen_stack
        top = stack[-1] if stack else None
        if isinstance(top, RunScreen) and top.run_id == run_id:
            return
        if self in stack:
            while self.app.screen_stack[-1] is not self:
                self.app.pop_screen()
        self.app.push_screen(RunScreen(run_id))

    def action_cancel_run(self) -> None:
        if row := self.query_one(RunTable).picked():
            self.ask_cancel(row.id, row.state)

    def action_resume_run(self) -> None:
        if row := self.query_one(RunTable).picked():
            self.resume(row.id, row.state)

    def action_playground(self) -> None:
        if row := self.query_one(RunTable).picked():
            self.playground(row.id, row.state)

    def action_mark_run(self) -> None:
        self.query_one(RunTable).toggle_mark()

    def action_compare_runs(self) -> None:
        table = self.query_one(RunTable)
        marked = [run_id for run_id in table.marked if run_id in table.shown]
        if len(marked) < 2:
            self.app.push_screen(ErrorScreen("Nothing to compare", "Mark two or more runs with m, then press v."))
            return
        self.app.push_screen(CompareScreen(marked))

    def action_delete_run(self) -> None:
        if row := self.query_one(RunTable).picked():
            self.ask_delete(row.id, row.state)
