"""The app's one run watcher: reads the run store once per tick and publishes what it saw.

Every view of runs (the runs list, a run's page, the playground's run
picker, the app's bell) renders the latest ``RunsSnapshot`` published on
``RunWatcher.signal``; none of them reads run files or keeps a timer of its
own. A run's page asks for its run's events with ``follow``.

The read runs in a thread worker; a tick that comes while a read is still
going asks for one more read after it, so reads never overlap and none is
lost. ``poke`` reads at once (after an action, when a screen comes back).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Protocol

from textual.app import App
from textual.signal import Signal

from engine.runs import RunStore
from tui.run_feed import RunDetail, RunsSnapshot, read_snapshot

#: Seconds between two reads of the run store.
WATCH_EVERY = 0.5


class Reader:
    """Starts one read at a time: a request during a read asks for one more after it."""

    def __init__(self, start: Callable[[], object]) -> None:
        self.start = start
        self.busy = False
        self.again = False

    def request(self) -> None:
        if self.busy:
            self.again = True
            return
        self.busy = True
        self.start()

    def done(self, more: bool = False) -> None:
        """The read's result is out; read again at once if asked to, or if it stopped early."""
        self.busy = False
        if self.again or more:
            self.again = False
            self.request()


class RunWatcher:
    """Owned by the app: ``start()`` once mounted, then every ``WATCH_EVERY`` seconds a snapshot on ``signal``."""

    def __init__(self, app: App[object]) -> None:
        self.app = app
        self.signal: Signal[RunsSnapshot] = Signal(app, "runs")
        self.snapshot: RunsSnapshot | None = None
        """The latest snapshot; None until the first read is done."""
        self.followed: Counter[str] = Counter()
        """Runs whose events are read, with how many views asked for each."""
        self.reader = Reader(self._start_read)

    def start(self) -> None:
        self.app.set_interval(WATCH_EVERY, self.poke)
        self.poke()

    def poke(self) -> None:
        """Read the store now (or right after the read under way)."""
        self.reader.request()

    def follow(self, run_id: str) -> None:
        """Read ``run_id``'s events and scorecard too, from the start of its log."""
        self.followed[run_id] += 1
        self.poke()

    def unfollow(self, run_id: str) -> None:
        self.followed[run_id] -= 1
        if self.followed[run_id] <= 0:
            del self.followed[run_id]

    def _start_read(self) -> None:
        details = self.snapshot.details if self.snapshot else {}
        followed: dict[str, RunDetail | None] = {run_id: details.get(run_id) for run_id in self.followed}
        self.app.run_worker(partial(self._read, followed), thread=True, group="run-watch", exit_on_error=False)

    def _read(self, followed: dict[str, RunDetail | None]) -> None:
        """In the worker's thread: read, then hand the snapshot to the app's thread; touches no widget."""
        try:
            snapshot = read_snapshot(RunStore(), followed)
        except Exception as exc:  # noqa: BLE001  (a bug here must not stop the watching: the lists say why)
            snapshot = RunsSnapshot(error=f"Can't read the runs: {type(exc).__name__}: {exc}")
        try:
            self.app.call_from_thread(self._publish, snapshot)
        except RuntimeError:  # the app closed while we read
            pass

    def _publish(self, snapshot: RunsSnapshot) -> None:
        self.snapshot = snapshot
        self.signal.publish(snapshot)
        self.reader.done(more=snapshot.more)


class RunsApp(Protocol):
    """What the run screens need of their app (``FinetuiApp``), without importing it (no import cycle)."""

    run_watcher: RunWatcher

    def open_playground(self, run_id: str | None = None) -> None: ...
