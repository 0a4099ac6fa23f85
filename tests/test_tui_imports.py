"""The TUI must start fast: it never imports torch, transformers or peft."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "peft", "bitsandbytes")

#: Runs in a fresh interpreter: preview a file, set up training, visit the runs, the
#: playground and the help, then list the heavy modules loaded.
SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.preview import PreviewScreen
from tui.screens.train import TrainScreen

async def main():
    app = FinetuiApp(start_path=Path("tests/fixtures/tui/qa.jsonl"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen) and app.screen.report is not None, timeout=30)
        await pilot.press("enter", "escape", "t")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.tokens is not None, timeout=30)
        for key, shown in (("f3", "RunsScreen"), ("f4", "PlaygroundScreen"), ("f1", "HelpScreen")):
            await pilot.press(key)
            await until(pilot, lambda: type(app.screen).__name__ == shown)
        await pilot.press("escape", "f2")
        await until(pilot, lambda: app.current_mode == "data")
        await pilot.press("escape", "escape")
        await until(pilot, lambda: type(app.screen).__name__ == "DataScreen")
        # what the screens started in threads has run too (the file tree's loader waits for ever, by design)
        await until(pilot, lambda: all(w.is_finished or w.group == "_loader" for w in app.workers))

asyncio.run(main())
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {heavy})))
"""


@pytest.mark.slow
def test_the_tui_never_imports_the_training_stack(tmp_path: Path) -> None:
    env = {**os.environ, "FINETUI_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("{heavy}", repr(set(HEAVY)))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_first_screen_loads_no_data_parser() -> None:
    """The data screen lists the formats before the first paint; the parsers load when a file is opened."""
    code = "import json, sys, tui.app, tui.screens.data; print(json.dumps([m for m in sys.modules if m.startswith('engine.data')]))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "engine.data.names" in loaded
    assert not loaded & {"engine.data.formats", "engine.data.parsers", "engine.data.scanner"}, loaded


def test_the_data_packages_names_are_what_they_were_whatever_was_imported_first() -> None:
    """engine.data loads each name on first use; a submodule imported before must not shadow a name."""
    code = """
import engine.data.scanner, engine.data.report, engine.data.errors
import engine.data as data
from engine.data import FORMATS, Cancelled, DataError, DataSpec, Report, detect_format, iter_examples, scan, split_examples
assert callable(scan) and scan.__module__ == "engine.data.scanner", scan
assert isinstance(DataError("x", "y"), Exception) and Report.__module__ == "engine.data.report"
assert all(not type(getattr(data, name)).__name__ == "module" for name in data.__all__)
assert set(data.__all__) == set(data._HOMES), "every public name has a home, and only those"
assert "csv" in FORMATS and "alpaca" in FORMATS
try:
    data.no_such_name
except AttributeError:
    print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
