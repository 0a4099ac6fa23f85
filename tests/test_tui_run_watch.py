"""The app's one run watcher: the bell on a run's end, and one read of the store per tick for every view."""

from __future__ import annotations

import pytest

from tests.fixed_runs import DATA, SIZE, run_page, runs_listed, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp

pytestmark = pytest.mark.usefixtures("tui_env")  # the repository root (paths on screen are relative), UTC (times are local)


@pytest.mark.slow
@pytest.mark.parametrize(("end", "rings"), [("ready", True), ("failed", True), ("cancelled", False)])
async def test_the_bell_rings_when_a_run_becomes_ready_or_failed(end: str, rings: bool) -> None:
    run = write_run("20260101-0900-haiku", "training", steps=3)
    app = FinetuiApp(start_path=DATA)
    bells: list[str] = []
    app.bell = lambda: bells.append(app.screen.__class__.__name__)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.run_states == {run.id: "training"})
        assert bells == []
        run.write_status(run.status().moved(end))
        if rings:
            await until(pilot, lambda: bells == ["DataScreen"])  # whatever screen is up
        else:  # the bell is decided in the same step that records the new state: no wait can change it
            await until(pilot, lambda: app.run_states == {run.id: end})
            assert bells == []


@pytest.mark.slow
async def test_the_list_the_page_and_the_bell_share_one_read_per_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """One run watcher reads the store; the runs list, an open run page and the bell only render its snapshots."""
    import tui.run_feed
    from tui.run_watch import RunWatcher

    run = write_run("20260101-0900-haiku", "training", steps=3)
    reads: list[str] = []
    real_refresh = tui.run_feed.refresh
    monkeypatch.setattr("tui.run_feed.refresh", lambda r: reads.append(r.id) or real_refresh(r))
    published: list[int] = []
    real_publish = RunWatcher._publish
    monkeypatch.setattr(RunWatcher, "_publish", lambda self, snap: published.append(len(reads)) or real_publish(self, snap))
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await runs_listed(pilot, 1)
        page = await run_page(pilot, run.id)
        start = len(published)
        await until(pilot, lambda: len(published) >= start + 3)
        # Each snapshot since the page opened: one status read for the list's row, one for the page's detail.
        per_snapshot = [b - a for a, b in zip(published[start - 1 :], published[start:], strict=False)]
        assert set(per_snapshot) == {2}, per_snapshot
        assert page.state == "training" and app.run_states == {run.id: "training"}



async def test_the_run_watcher_starts_a_moment_after_the_first_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first frame is drawn with no run watcher made; the watcher waits ``FIRST_FRAME_OUT_S`` more, so the
    imports it brings do not hold up that frame on its way to the terminal (``bench/tui_startup.py`` shows the gain)."""
    from textual.app import App

    import tui.app

    order: list[str] = []
    display, set_timer = App._display, App.set_timer

    def drawn(self: App, screen, renderable) -> None:  # type: ignore[no-untyped-def]
        if renderable is not None and not order:
            order.append("frame, with a run watcher" if "run_watcher" in self.__dict__ else "frame")
        display(self, screen, renderable)

    def timed(self: App, delay: float, callback=None, **kwargs):  # type: ignore[no-untyped-def]
        if callback is not None and getattr(callback, "__name__", "") == "_watch_runs":
            order.append(f"watcher in {delay} s")
        return set_timer(self, delay, callback, **kwargs)

    monkeypatch.setattr(App, "_display", drawn)
    monkeypatch.setattr(App, "set_timer", timed)
    app = FinetuiApp(start_path=DATA)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.run_states is not None)
    assert order == ["frame", f"watcher in {tui.app.FIRST_FRAME_OUT_S} s"]


async def test_a_quit_before_the_run_watcher_starts_ends_quietly() -> None:
    """Ctrl+Q inside the first frame's ``FIRST_FRAME_OUT_S``: the watcher's turn comes as the app closes, and is skipped."""
    app = FinetuiApp(start_path=DATA)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    app._watch_runs()  # what the pending timer does when it fires during the quit: no SignalError
