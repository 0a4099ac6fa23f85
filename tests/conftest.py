"""Fixtures every test gets (finetui writes only under a fresh, empty home folder), and steady snapshots."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.pilot_helpers import steady_cursors

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``gpu`` where torch sees no CUDA device (torch is imported only if there are any)."""
    marked = [item for item in items if item.get_closest_marker("gpu")]
    if not marked:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch sees none")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def finetui_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``FINETUI_HOME`` at a per-test folder that does not exist yet.

    Nothing a test runs can touch the user's real data folder, and a test can
    check what (if anything) was written there.
    """
    home = tmp_path_factory.mktemp("finetui-home") / "home"
    monkeypatch.setenv("FINETUI_HOME", str(home))
    return home


@pytest.fixture
def tui_env(finetui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The TUI tests' world: the repository root as the working folder (paths on screen are
    relative), UTC (times on screen are local) and the empty home, which it returns."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield finetui_home
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """pytest-textual-snapshot's ``snap_compare``, with every text cursor held still before the picture.

    A cursor blinks every half second; on a busy machine the picture would
    catch it on or off by chance.
    """

    def compare(app: Any, *, run_before: Callable[[Pilot], Awaitable[None]] | None = None, **kwargs: Any) -> bool:
        async def before(pilot: Pilot) -> None:
            if run_before is not None:
                await run_before(pilot)
            await steady_cursors(pilot)

        return snap_compare(app, run_before=before, **kwargs)

    return compare
