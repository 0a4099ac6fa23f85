"""Fixtures every test gets (finetui writes only under a fresh, empty home folder), and steady snapshots."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.pilot_helpers import screen_text, settled, steady_cursors

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Give each pytest-xdist worker its share of the cores for torch, and the processes its tests start the same.

    Two workers on two cores that each ran torch on every core would each
    wait on threads the other pushed off the cores (see ``engine.cpu_share``):
    the full suite took longer on two workers than on one. Run on its own,
    or with ``OMP_NUM_THREADS`` set, nothing changes.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))


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


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama saved as a model folder, made once per module: what the tests that train load."""
    from tests.tiny_model import make_model  # here: torch and transformers load only for the tests that ask

    return make_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny model's tokenizer (a real byte-level BPE with a chat template), made once per module."""
    from tests.tiny_model import make_tokenizer

    return make_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 short, varied lines split at ``--SEP--``: a data file the tiny model learns in a few steps."""
    words = "the quick brown fox jumps over the lazy dog a journey of a thousand miles begins".split()
    pieces = [" ".join(words[(i * 3) % len(words) :] + words[: (i * 5) % len(words)]) + f" {i}" for i in range(80)]
    path = tmp_path_factory.mktemp("data") / "lines.txt"
    path.write_text("\n--SEP--\n".join(pieces))
    return path


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
def snap_compare(snap_compare: Callable[..., bool], request: pytest.FixtureRequest) -> Callable[..., bool]:
    """pytest-textual-snapshot's ``snap_compare``, taken once the screen has settled, with every text cursor held still.

    A cursor blinks every half second; on a busy machine the picture would
    catch it on or off by chance. On a mismatch the rows that differ are
    printed as text, so a failure far away (in CI) says what changed.
    """
    shots: list[str] = []

    def compare(app: Any, *, run_before: Callable[[Pilot], Awaitable[None]] | None = None, **kwargs: Any) -> bool:
        async def before(pilot: Pilot) -> None:
            if run_before is not None:
                await run_before(pilot)
            await steady_cursors(pilot)
            shots.append(await settled(pilot))

        same = snap_compare(app, run_before=before, **kwargs)
        saved = request.path.parent / "__snapshots__" / request.path.stem / f"{request.node.name}.svg"
        if not same and shots and saved.exists():
            print_difference(screen_text(saved.read_text()), screen_text(shots[-1]))
        return same

    return compare


def print_difference(expected: list[str], actual: list[str]) -> None:
    """The rows of the saved snapshot and of the screen that differ, one pair per row."""
    print("snapshot rows that differ (saved / now):")
    for row, (was, now) in enumerate(zip(expected, actual, strict=False)):
        if was != now:
            print(f"{row:2d} saved: {was}\n{row:2d} now:   {now}")
    if len(expected) != len(actual):
        print(f"saved has {len(expected)} rows, the screen {len(actual)}")
    elif expected == actual:
        print("none: the text is the same, so only colours or styles differ")
